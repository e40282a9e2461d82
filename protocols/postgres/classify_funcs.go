package postgres

import "strings"

// ---- built-in functions that reach past the statement ----

// funcEffect is what calling a listed function does beyond computing.
type funcEffect uint8

const (
	// fxGuard: a guard rail; the statement is denied whatever the rules.
	fxGuard funcEffect = iota
	// fxRead: reads the relation its argument arg names.
	fxRead
	// fxWrite: writes the relation its argument arg names.
	fxWrite
	// fxMeta: tells about the relation its argument arg names (size,
	// properties) without reading its rows: a constant is recorded as a
	// read, and any other argument is allowed (catalog clients call them
	// with c.oid).
	fxMeta
	// fxReadTable: reads the fixed relation table.
	fxReadTable
	// fxWriteTable: writes the fixed relation table.
	fxWriteTable
)

// funcInfo is one listed function name (every overload and schema: calls
// are matched by the bare name, so a user function of the same name gets
// the same treatment, which can only deny more).
type funcInfo struct {
	effect funcEffect
	arg    int    // fxRead, fxWrite: the argument naming the relation (0-based)
	table  string // fxReadTable, fxWriteTable
	why    string // fxGuard: the reason given
	// ext and sigs are where PostgreSQL 15 defines the function ("core" or
	// the extension) and its argument types (oidvectortypes), one entry
	// per overload: TestFunctionListMatchesCatalog checks each exists.
	ext  string
	sigs []string
}

// A relation argument must be a constant (a string, or a string cast to
// regclass or text): the classifier reads the name as PostgreSQL does
// (see parseRelationName) and records it in reads or writes. Anything else
// (a column, an expression, a numeric OID) trips a guard rail, as the
// classifier cannot tell which relation it names; for fxMeta functions
// only a constant that cannot be read does.
//
// The list was derived from PostgreSQL 15's catalog and source: every
// function in pg_proc (core and every contrib extension shipped with it)
// with a regclass argument (TestFunctionListMatchesCatalog checks none is
// missing), every C function that runs SPI on text it is given (xml.c,
// tsvector_op.c, tsquery_rewrite.c, tablefunc, xml2, dblink) or opens a
// relation named by text (textToQualifiedNameList: tid.c, pageinspect,
// pgrowlocks, pgstattuple), the large-object functions, and those reading
// server files, the WAL or logical decoding. Considered and not listed:
// functions that only resolve a name for metadata (has_*_privilege,
// pg_get_viewdef(text), pg_get_serial_sequence, row_security_active,
// to_regclass): they read no rows; cursor_to_xml* reads a cursor whose
// query was classified when it was declared.
var funcList = map[string]funcInfo{
	// -- run SQL text the classifier never sees --
	"query_to_xml":               {effect: fxGuard, why: "runs the query in its text argument", ext: "core", sigs: []string{"text, boolean, boolean, text"}},
	"query_to_xmlschema":         {effect: fxGuard, why: "runs the query in its text argument", ext: "core", sigs: []string{"text, boolean, boolean, text"}},
	"query_to_xml_and_xmlschema": {effect: fxGuard, why: "runs the query in its text argument", ext: "core", sigs: []string{"text, boolean, boolean, text"}},
	// ts_rewrite(query, select) runs select to fetch the rewrite rules.
	"ts_rewrite": {effect: fxGuard, why: "runs the query in its text argument", ext: "core", sigs: []string{"tsquery, text", "tsquery, tsquery, tsquery"}},
	// ts_stat(sqlquery [, weights]) runs sqlquery.
	"ts_stat":   {effect: fxGuard, why: "runs the query in its text argument", ext: "core", sigs: []string{"text", "text, text"}},
	"crosstab":  {effect: fxGuard, why: "runs the queries in its text arguments (tablefunc)", ext: "tablefunc", sigs: []string{"text", "text, integer", "text, text"}},
	"crosstab2": {effect: fxGuard, why: "runs the query in its text argument (tablefunc)", ext: "tablefunc", sigs: []string{"text"}},
	"crosstab3": {effect: fxGuard, why: "runs the query in its text argument (tablefunc)", ext: "tablefunc", sigs: []string{"text"}},
	"crosstab4": {effect: fxGuard, why: "runs the query in its text argument (tablefunc)", ext: "tablefunc", sigs: []string{"text"}},
	// connectby and xpath_table build a query from a relation name and SQL
	// fragments passed as text.
	"connectby": {effect: fxGuard, why: "builds and runs a query from its text arguments (tablefunc)", ext: "tablefunc",
		sigs: []string{"text, text, text, text, integer", "text, text, text, text, integer, text", "text, text, text, text, text, integer", "text, text, text, text, text, integer, text"}},
	"xpath_table": {effect: fxGuard, why: "builds and runs a query from its text arguments (xml2)", ext: "xml2", sigs: []string{"text, text, text, text, text"}},
	// schema_to_xml* and database_to_xml* read every table of a schema or
	// of the database.
	"schema_to_xml":                 {effect: fxGuard, why: "reads every table of a schema", ext: "core", sigs: []string{"name, boolean, boolean, text"}},
	"schema_to_xmlschema":           {effect: fxGuard, why: "reads every table of a schema", ext: "core", sigs: []string{"name, boolean, boolean, text"}},
	"schema_to_xml_and_xmlschema":   {effect: fxGuard, why: "reads every table of a schema", ext: "core", sigs: []string{"name, boolean, boolean, text"}},
	"database_to_xml":               {effect: fxGuard, why: "reads every table of the database", ext: "core", sigs: []string{"boolean, boolean, text"}},
	"database_to_xmlschema":         {effect: fxGuard, why: "reads every table of the database", ext: "core", sigs: []string{"boolean, boolean, text"}},
	"database_to_xml_and_xmlschema": {effect: fxGuard, why: "reads every table of the database", ext: "core", sigs: []string{"boolean, boolean, text"}},

	// -- read or write the relation an argument names --
	"table_to_xml":               {effect: fxRead, ext: "core", sigs: []string{"regclass, boolean, boolean, text"}},
	"table_to_xmlschema":         {effect: fxRead, ext: "core", sigs: []string{"regclass, boolean, boolean, text"}},
	"table_to_xml_and_xmlschema": {effect: fxRead, ext: "core", sigs: []string{"regclass, boolean, boolean, text"}},
	// currtid2(relname, tid) reads the latest version of a row.
	"currtid2": {effect: fxRead, ext: "core", sigs: []string{"text, tid"}},
	// Sequences: nextval and setval change them, currval and
	// pg_sequence_last_value read them.
	"nextval":                {effect: fxWrite, ext: "core", sigs: []string{"regclass"}},
	"setval":                 {effect: fxWrite, ext: "core", sigs: []string{"regclass, bigint", "regclass, bigint, boolean"}},
	"currval":                {effect: fxRead, ext: "core", sigs: []string{"regclass"}},
	"pg_sequence_last_value": {effect: fxRead, ext: "core", sigs: []string{"regclass"}},
	// Sizes, files and properties: metadata, no rows.
	"pg_relation_size":              {effect: fxMeta, ext: "core", sigs: []string{"regclass", "regclass, text"}},
	"pg_table_size":                 {effect: fxMeta, ext: "core", sigs: []string{"regclass"}},
	"pg_total_relation_size":        {effect: fxMeta, ext: "core", sigs: []string{"regclass"}},
	"pg_indexes_size":               {effect: fxMeta, ext: "core", sigs: []string{"regclass"}},
	"pg_relation_filenode":          {effect: fxMeta, ext: "core", sigs: []string{"regclass"}},
	"pg_relation_filepath":          {effect: fxMeta, ext: "core", sigs: []string{"regclass"}},
	"pg_partition_tree":             {effect: fxMeta, ext: "core", sigs: []string{"regclass"}},
	"pg_partition_ancestors":        {effect: fxMeta, ext: "core", sigs: []string{"regclass"}},
	"pg_partition_root":             {effect: fxMeta, ext: "core", sigs: []string{"regclass"}},
	"pg_relation_is_updatable":      {effect: fxMeta, ext: "core", sigs: []string{"regclass, boolean"}},
	"pg_column_is_updatable":        {effect: fxMeta, ext: "core", sigs: []string{"regclass, smallint, boolean"}},
	"pg_relation_is_publishable":    {effect: fxMeta, ext: "core", sigs: []string{"regclass"}},
	"pg_get_replica_identity_index": {effect: fxMeta, ext: "core", sigs: []string{"regclass"}},
	"pg_index_has_property":         {effect: fxMeta, ext: "core", sigs: []string{"regclass, text"}},
	"pg_index_column_has_property":  {effect: fxMeta, ext: "core", sigs: []string{"regclass, integer, text"}},
	// Index maintenance changes the index.
	"brin_summarize_new_values": {effect: fxWrite, ext: "core", sigs: []string{"regclass"}},
	"brin_summarize_range":      {effect: fxWrite, ext: "core", sigs: []string{"regclass, bigint"}},
	"brin_desummarize_range":    {effect: fxWrite, ext: "core", sigs: []string{"regclass, bigint"}},
	"gin_clean_pending_list":    {effect: fxWrite, ext: "core", sigs: []string{"regclass"}},
	// Used by extension scripts: marks the table's rows for pg_dump.
	"pg_extension_config_dump": {effect: fxWrite, ext: "core", sigs: []string{"regclass, text"}},
	// pg_nextoid(rel, column, index) scans the index for a free OID (binary upgrade).
	"pg_nextoid": {effect: fxRead, ext: "core", sigs: []string{"regclass, name, regclass"}},
	// amcheck reads every page of the relation or index.
	"bt_index_check":        {effect: fxRead, ext: "amcheck", sigs: []string{"regclass", "regclass, boolean"}},
	"bt_index_parent_check": {effect: fxRead, ext: "amcheck", sigs: []string{"regclass", "regclass, boolean", "regclass, boolean, boolean"}},
	"verify_heapam":         {effect: fxRead, ext: "amcheck", sigs: []string{"regclass, boolean, boolean, text, bigint, bigint"}},
	// pageinspect returns raw pages and decoded tuples: the data itself.
	"get_raw_page":         {effect: fxRead, ext: "pageinspect", sigs: []string{"text, bigint", "text, text, bigint"}},
	"bt_metap":             {effect: fxRead, ext: "pageinspect", sigs: []string{"text"}},
	"bt_page_items":        {effect: fxRead, ext: "pageinspect", sigs: []string{"text, bigint", "bytea"}},
	"bt_page_stats":        {effect: fxRead, ext: "pageinspect", sigs: []string{"text, bigint"}},
	"hash_bitmap_info":     {effect: fxRead, ext: "pageinspect", sigs: []string{"regclass, bigint"}},
	"brin_page_items":      {effect: fxRead, arg: 1, ext: "pageinspect", sigs: []string{"bytea, regclass"}},
	"gist_page_items":      {effect: fxRead, arg: 1, ext: "pageinspect", sigs: []string{"bytea, regclass"}},
	"heap_page_item_attrs": {effect: fxRead, arg: 1, ext: "pageinspect", sigs: []string{"bytea, regclass", "bytea, regclass, boolean"}},
	// pgstattuple, pgrowlocks, pg_freespacemap, pg_visibility and
	// pg_prewarm scan the relation's pages.
	"pgstattuple":               {effect: fxRead, ext: "pgstattuple", sigs: []string{"text", "regclass"}},
	"pgstattuple_approx":        {effect: fxRead, ext: "pgstattuple", sigs: []string{"regclass"}},
	"pgstatindex":               {effect: fxRead, ext: "pgstattuple", sigs: []string{"text", "regclass"}},
	"pgstatginindex":            {effect: fxRead, ext: "pgstattuple", sigs: []string{"regclass"}},
	"pgstathashindex":           {effect: fxRead, ext: "pgstattuple", sigs: []string{"regclass"}},
	"pg_relpages":               {effect: fxRead, ext: "pgstattuple", sigs: []string{"text", "regclass"}},
	"pgrowlocks":                {effect: fxRead, ext: "pgrowlocks", sigs: []string{"text"}},
	"pg_freespace":              {effect: fxRead, ext: "pg_freespacemap", sigs: []string{"regclass", "regclass, bigint"}},
	"pg_visibility":             {effect: fxRead, ext: "pg_visibility", sigs: []string{"regclass", "regclass, bigint"}},
	"pg_visibility_map":         {effect: fxRead, ext: "pg_visibility", sigs: []string{"regclass", "regclass, bigint"}},
	"pg_visibility_map_summary": {effect: fxRead, ext: "pg_visibility", sigs: []string{"regclass"}},
	"pg_check_frozen":           {effect: fxRead, ext: "pg_visibility", sigs: []string{"regclass"}},
	"pg_check_visible":          {effect: fxRead, ext: "pg_visibility", sigs: []string{"regclass"}},
	"pg_prewarm":                {effect: fxRead, ext: "pg_prewarm", sigs: []string{"regclass, text, text, bigint, bigint"}},
	// These change the relation below SQL: rows killed or frozen, the
	// visibility map dropped.
	"pg_truncate_visibility_map": {effect: fxWrite, ext: "pg_visibility", sigs: []string{"regclass"}},
	"heap_force_kill":            {effect: fxWrite, ext: "pg_surgery", sigs: []string{"regclass, tid[]"}},
	"heap_force_freeze":          {effect: fxWrite, ext: "pg_surgery", sigs: []string{"regclass, tid[]"}},

	// -- large objects: data outside any table, in pg_largeobject --
	"lo_get":        {effect: fxReadTable, table: "pg_catalog.pg_largeobject", ext: "core", sigs: []string{"oid", "oid, bigint, integer"}},
	"lo_open":       {effect: fxReadTable, table: "pg_catalog.pg_largeobject", ext: "core", sigs: []string{"oid, integer"}},
	"loread":        {effect: fxReadTable, table: "pg_catalog.pg_largeobject", ext: "core", sigs: []string{"integer, integer"}},
	"lo_put":        {effect: fxWriteTable, table: "pg_catalog.pg_largeobject", ext: "core", sigs: []string{"oid, bigint, bytea"}},
	"lowrite":       {effect: fxWriteTable, table: "pg_catalog.pg_largeobject", ext: "core", sigs: []string{"integer, bytea"}},
	"lo_from_bytea": {effect: fxWriteTable, table: "pg_catalog.pg_largeobject", ext: "core", sigs: []string{"oid, bytea"}},
	"lo_create":     {effect: fxWriteTable, table: "pg_catalog.pg_largeobject", ext: "core", sigs: []string{"oid"}},
	"lo_creat":      {effect: fxWriteTable, table: "pg_catalog.pg_largeobject", ext: "core", sigs: []string{"integer"}},
	"lo_unlink":     {effect: fxWriteTable, table: "pg_catalog.pg_largeobject", ext: "core", sigs: []string{"oid"}},
	"lo_truncate":   {effect: fxWriteTable, table: "pg_catalog.pg_largeobject", ext: "core", sigs: []string{"integer, integer"}},
	"lo_truncate64": {effect: fxWriteTable, table: "pg_catalog.pg_largeobject", ext: "core", sigs: []string{"integer, bigint"}},

	// -- the functions behind data-bearing catalog views --
	"pg_stat_get_activity":         {effect: fxReadTable, table: "pg_catalog.pg_stat_activity", ext: "core", sigs: []string{"integer"}},
	"pg_stat_get_backend_activity": {effect: fxReadTable, table: "pg_catalog.pg_stat_activity", ext: "core", sigs: []string{"integer"}},
	"pg_stat_statements":           {effect: fxReadTable, table: "public.pg_stat_statements", ext: "pg_stat_statements", sigs: []string{"boolean"}},
	"pg_stat_get_wal_receiver":     {effect: fxReadTable, table: "pg_catalog.pg_stat_wal_receiver", ext: "core", sigs: []string{""}},
	"pg_hba_file_rules":            {effect: fxReadTable, table: "pg_catalog.pg_hba_file_rules", ext: "core", sigs: []string{""}},
	"pg_ident_file_mappings":       {effect: fxReadTable, table: "pg_catalog.pg_ident_file_mappings", ext: "core", sigs: []string{""}},
	"pg_show_all_file_settings":    {effect: fxReadTable, table: "pg_catalog.pg_file_settings", ext: "core", sigs: []string{""}},

	// -- session parameters, server files, other servers, the WAL --
	"set_config":          {effect: fxGuard, why: "changes session parameters", ext: "core", sigs: []string{"text, text, boolean"}},
	"lo_import":           {effect: fxGuard, why: "reads a server file", ext: "core", sigs: []string{"text", "text, oid"}},
	"lo_export":           {effect: fxGuard, why: "writes a server file", ext: "core", sigs: []string{"oid, text"}},
	"pg_read_file":        {effect: fxGuard, why: "reads a server file", ext: "core", sigs: []string{"text", "text, bigint, bigint", "text, bigint, bigint, boolean"}},
	"pg_read_file_old":    {effect: fxGuard, why: "reads a server file", ext: "core", sigs: []string{"text, bigint, bigint"}},
	"pg_read_binary_file": {effect: fxGuard, why: "reads a server file", ext: "core", sigs: []string{"text", "text, bigint, bigint", "text, bigint, bigint, boolean"}},
	"pg_stat_file":        {effect: fxGuard, why: "reads server file metadata", ext: "core", sigs: []string{"text", "text, boolean"}},
	"pg_ls_dir":           {effect: fxGuard, why: "lists a server directory", ext: "core", sigs: []string{"text", "text, boolean, boolean"}},
	"pg_file_write":       {effect: fxGuard, why: "writes a server file (adminpack)", ext: "adminpack", sigs: []string{"text, text, boolean"}},
	"pg_file_rename":      {effect: fxGuard, why: "renames a server file (adminpack)", ext: "adminpack", sigs: []string{"text, text", "text, text, text"}},
	"pg_file_unlink":      {effect: fxGuard, why: "removes a server file (adminpack)", ext: "adminpack", sigs: []string{"text"}},
	"pg_file_sync":        {effect: fxGuard, why: "syncs a server file (adminpack)", ext: "adminpack", sigs: []string{"text"}},
	"pg_logdir_ls":        {effect: fxGuard, why: "lists the server's log directory (adminpack)", ext: "adminpack", sigs: []string{""}},
	// The WAL holds every change to every table (full-page images too).
	"pg_get_wal_record_info":                  {effect: fxGuard, why: "reads the WAL (pg_walinspect)", ext: "pg_walinspect", sigs: []string{"pg_lsn"}},
	"pg_get_wal_records_info":                 {effect: fxGuard, why: "reads the WAL (pg_walinspect)", ext: "pg_walinspect", sigs: []string{"pg_lsn, pg_lsn"}},
	"pg_get_wal_records_info_till_end_of_wal": {effect: fxGuard, why: "reads the WAL (pg_walinspect)", ext: "pg_walinspect", sigs: []string{"pg_lsn"}},
	"pg_get_wal_stats":                        {effect: fxGuard, why: "reads the WAL (pg_walinspect)", ext: "pg_walinspect", sigs: []string{"pg_lsn, pg_lsn, boolean"}},
	"pg_get_wal_stats_till_end_of_wal":        {effect: fxGuard, why: "reads the WAL (pg_walinspect)", ext: "pg_walinspect", sigs: []string{"pg_lsn, boolean"}},
	// Logical decoding reads every change; slots hold WAL back.
	"pg_create_logical_replication_slot":  {effect: fxGuard, why: "creates a replication slot", ext: "core", sigs: []string{"name, name, boolean, boolean"}},
	"pg_create_physical_replication_slot": {effect: fxGuard, why: "creates a replication slot", ext: "core", sigs: []string{"name, boolean, boolean"}},
	"pg_copy_logical_replication_slot":    {effect: fxGuard, why: "creates a replication slot", ext: "core", sigs: []string{"name, name", "name, name, boolean", "name, name, boolean, name"}},
	"pg_copy_physical_replication_slot":   {effect: fxGuard, why: "creates a replication slot", ext: "core", sigs: []string{"name, name", "name, name, boolean"}},
	"pg_replication_slot_advance":         {effect: fxGuard, why: "moves a replication slot", ext: "core", sigs: []string{"name, pg_lsn"}},
	"pg_logical_emit_message":             {effect: fxGuard, why: "writes to the WAL", ext: "core", sigs: []string{"boolean, text, bytea", "boolean, text, text"}},
}

// guardPrefixes are function-name prefixes that are guard rails in every
// overload and any future function of the family.
var guardPrefixes = []struct{ prefix, suffix, why string }{
	{"dblink", "", "reaches other servers and runs the SQL text it is given (dblink)"},
	{"pg_logical_slot_", "", "reads logical decoding output: every change to every table"},
	{"pg_ls_", "dir", "lists a server directory"},
}

// guardedFunction returns the guard-rail reason for calling the function
// name (bare, lower-case), or "".
func guardedFunction(name string) string {
	if f, ok := funcList[name]; ok && f.effect == fxGuard {
		return name + "() is never allowed: it " + f.why
	}
	for _, g := range guardPrefixes {
		if strings.HasPrefix(name, g.prefix) && strings.HasSuffix(name, g.suffix) {
			return name + "() is never allowed: it " + g.why
		}
	}
	return ""
}
