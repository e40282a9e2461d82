package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Presets are named building blocks a rule file includes
// (policy.include: [housekeeping, catalog-metadata, s3-bucket-probes]) so
// that the statements and requests clients issue by themselves pass without
// rules of their own. Each is one allow rule, named PresetRuleName(name),
// built from the fixed lists below; audit records name it like any rule,
// and a deny rule still wins over it.

// PresetNames lists the presets, in the order they are documented.
var PresetNames = []string{"housekeeping", "catalog-metadata", "s3-bucket-probes"}

// PresetRuleName is the name of the rule a preset becomes: "preset." and
// the preset's name. Rule files cannot use the "preset." prefix.
func PresetRuleName(name string) string { return "preset." + name }

// PresetRules returns the rules for the named presets, in the order given,
// or an error naming an unknown or repeated preset.
func PresetRules(names []string) ([]Rule, error) {
	out := make([]Rule, 0, len(names))
	for i, n := range names {
		expr, ok := presetExprs()[n]
		switch {
		case !ok:
			return nil, fmt.Errorf("include[%d]: unknown preset %q (known: %s)", i, n, strings.Join(PresetNames, ", "))
		case slices.Contains(names[:i], n):
			return nil, fmt.Errorf("include[%d]: %q is included twice", i, n)
		}
		out = append(out, Rule{Name: PresetRuleName(n), Allow: expr})
	}
	return out, nil
}

// Housekeeping: statements clients send on their own to manage their
// session, none of which reads or writes a table of its own. FETCH and
// MOVE carry the tables of their cursor, whose DECLARE was checked (a
// cursor Airlock did not see declared is a guard rail); a deny rule on
// those tables still wins.
var (
	// housekeepingUtility are utility commands (sql.command) that only end
	// or move server-side state the session made itself: cursors (psycopg
	// server-side cursors: FETCH/MOVE/CLOSE; asyncpg's pool: CLOSE ALL),
	// notifications (UNLISTEN; asyncpg's pool: UNLISTEN *) and DISCARD,
	// which cannot change pinned parameters (they are startup values, which
	// DISCARD ALL restores). LISTEN and DECLARE are not here: DECLARE reads
	// (it is checked as the SELECT it holds).
	housekeepingUtility = []string{
		"FETCH", "MOVE", "CLOSE CURSOR", "CLOSE CURSOR ALL", "UNLISTEN",
		"DISCARD PLANS", "DISCARD SEQUENCES", "DISCARD TEMP", "DISCARD ALL",
	}
	// housekeepingTransaction are transaction commands. Two-phase commit
	// (PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED) is left out: it
	// leaves state behind after the session ends.
	housekeepingTransaction = []string{"BEGIN", "START TRANSACTION", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}
	// housekeepingFunctions may be called in a SELECT that reads no table:
	// asyncpg's pool releases advisory locks on every release.
	housekeepingFunctions = []string{"pg_catalog.pg_advisory_unlock_all"}
	// housekeepingText are patterns of the statement's normalised text for
	// the set kind: RESET ALL (asyncpg's pool; pinned parameters survive it,
	// as startup values) and SET [SESSION CHARACTERISTICS AS] TRANSACTION
	// (isolation levels: SQLAlchemy, JDBC).
	housekeepingText = []string{
		`(?is)^\s*reset\s+all\s*;?\s*$`,
		`(?is)^\s*set\s+(session\s+characteristics\s+as\s+)?transaction\s`,
	}
)

// Catalog metadata: what drivers and ORMs read at connect and to reflect
// tables (postgres.js array types, SQLAlchemy's dialect start-up and
// has_table, JDBC type and table metadata). Only relations describing
// schema objects are listed. Never listed, because they carry data or
// other sessions' secrets: pg_statistic, pg_stats, pg_stats_ext,
// pg_stats_ext_exprs (column values: histograms, most common values),
// pg_stat_activity and pg_stat_statements (other sessions' query text),
// pg_authid, pg_shadow, pg_user_mapping(s) (password hashes, foreign
// server credentials), pg_largeobject (data), pg_file_settings,
// pg_hba_file_rules and pg_settings (server configuration, including
// custom settings that may hold secrets: the SHOW list below names the
// settings clients need), pg_sequences (current values).
var (
	catalogRelations = []string{
		"pg_catalog.pg_am", "pg_catalog.pg_attrdef", "pg_catalog.pg_attribute", "pg_catalog.pg_cast",
		"pg_catalog.pg_class", "pg_catalog.pg_collation", "pg_catalog.pg_constraint", "pg_catalog.pg_database",
		"pg_catalog.pg_depend", "pg_catalog.pg_description", "pg_catalog.pg_enum", "pg_catalog.pg_extension",
		"pg_catalog.pg_index", "pg_catalog.pg_indexes", "pg_catalog.pg_inherits", "pg_catalog.pg_language",
		"pg_catalog.pg_matviews", "pg_catalog.pg_namespace", "pg_catalog.pg_opclass", "pg_catalog.pg_operator",
		"pg_catalog.pg_partitioned_table", "pg_catalog.pg_proc", "pg_catalog.pg_range", "pg_catalog.pg_sequence",
		"pg_catalog.pg_tables", "pg_catalog.pg_trigger", "pg_catalog.pg_type", "pg_catalog.pg_views",
		"information_schema.check_constraints", "information_schema.columns", "information_schema.constraint_column_usage",
		"information_schema.domains", "information_schema.element_types", "information_schema.key_column_usage",
		"information_schema.parameters", "information_schema.referential_constraints", "information_schema.routines",
		"information_schema.schemata", "information_schema.sequences", "information_schema.table_constraints",
		"information_schema.tables", "information_schema.views",
	}
	// catalogFunctions are the functions a catalog query may call: they
	// describe objects or transform values, and read no table data.
	catalogFunctions = []string{
		"pg_catalog.array_agg", "pg_catalog.array_length", "pg_catalog.array_lower", "pg_catalog.array_to_string",
		"pg_catalog.array_upper", "pg_catalog.col_description", "pg_catalog.count", "pg_catalog.current_database",
		"pg_catalog.current_schema", "pg_catalog.current_schemas", "pg_catalog.format_type", "pg_catalog.generate_series",
		"pg_catalog.json_build_object", "pg_catalog.lower", "pg_catalog.obj_description", "pg_catalog.pg_encoding_to_char",
		"pg_catalog.pg_function_is_visible", "pg_catalog.pg_get_constraintdef", "pg_catalog.pg_get_expr",
		"pg_catalog.pg_get_function_arguments", "pg_catalog.pg_get_function_identity_arguments",
		"pg_catalog.pg_get_function_result", "pg_catalog.pg_get_indexdef", "pg_catalog.pg_get_keywords", "pg_catalog.pg_get_serial_sequence",
		"pg_catalog.pg_get_userbyid", "pg_catalog.pg_get_viewdef", "pg_catalog.pg_table_is_visible",
		"pg_catalog.pg_type_is_visible", "pg_catalog.quote_ident", "pg_catalog.string_agg", "pg_catalog.unnest",
		"pg_catalog.upper", "pg_catalog.version",
	}
	// catalogSettings may be read with SHOW: server facts and session
	// formats, none of them a secret.
	catalogSettings = []string{
		"application_name", "bytea_output", "client_encoding", "datestyle", "default_transaction_isolation",
		"default_transaction_read_only", "extra_float_digits", "integer_datetimes", "intervalstyle", "lc_collate",
		"lc_ctype", "max_identifier_length", "search_path", "server_encoding", "server_version", "server_version_num",
		"standard_conforming_strings", "timezone", "transaction isolation level", "transaction_isolation",
		"transaction_read_only",
	}
)

// S3 bucket probes: what s3fs, pandas and the SDKs' transfer managers ask
// before writing (does the bucket exist, where is it). ListBuckets is not
// here: it names every bucket the held credentials can see, which no
// read or write needs; a rule that wants it names it.
var s3BucketProbes = []string{"HeadBucket", "GetBucketLocation"}

// presetExprs builds each preset's CEL expression from the lists.
func presetExprs() map[string]string {
	return map[string]string{
		"housekeeping": `(sql.kind == "utility" && sql.command in ["FETCH", "MOVE"] && sql.writes.size() == 0)` +
			` || sql.kinds.all(k, k == sql.kind) && sql.tables.size() == 0 && (` +
			`sql.kind == "deallocate"` +
			` || (sql.kind == "utility" && sql.command in ` + celList(housekeepingUtility) + `)` +
			` || (sql.kind == "transaction" && sql.command in ` + celList(housekeepingTransaction) + `)` +
			` || (sql.kind == "set" && ` + celAnyMatch(housekeepingText) + `)` +
			` || (sql.kind == "select" && sql.command == "SELECT" && sql.functions.size() > 0 && sql.functions.all(f, f in ` + celList(housekeepingFunctions) + `)))`,
		"catalog-metadata": `(sql.kind == "select" && sql.kinds.all(k, k == "select") && sql.writes.size() == 0` +
			` && sql.reads.all(t, t in ` + celList(catalogRelations) + `)` +
			` && sql.functions.all(f, f in ` + celList(catalogFunctions) + `))` +
			` || (sql.kind == "set" && sql.command == "SHOW" && sql.text.matches(` + strconv.Quote(showPattern()) + `))`,
		"s3-bucket-probes": `s3.action in ` + celList(s3BucketProbes),
	}
}

// showPattern matches SHOW of one of catalogSettings, any case and spacing.
func showPattern() string {
	alts := make([]string, len(catalogSettings))
	for i, s := range catalogSettings {
		alts[i] = strings.ReplaceAll(s, " ", `\s+`)
	}
	return `(?is)^\s*show\s+(` + strings.Join(alts, "|") + `)\s*;?\s*$`
}

func celAnyMatch(patterns []string) string {
	parts := make([]string, len(patterns))
	for i, p := range patterns {
		parts[i] = "sql.text.matches(" + strconv.Quote(p) + ")"
	}
	return "(" + strings.Join(parts, " || ") + ")"
}
