package policy

import (
	_ "embed"
	"strings"
)

// Pure functions: the built-ins (pg_catalog) that a rule may let a task
// call freely, because calling them has no effect outside the statement's
// result. pure_functions.txt lists them; it is generated, never typed: a
// name is listed when every pg_catalog function of that name is immutable
// or stable (pg_proc.provolatile 'i' or 's': PostgreSQL promises they do
// not modify the database) and the name matches no pattern of
// PureExclusions. scripts/gen-pure-functions.sh regenerates the file from
// a throwaway PostgreSQL 15; a test fails when it is stale.
//
// Rules see the class as the CEL member function pure() on a function
// name: sql.functions.all(f, f.pure()).

//go:embed pure_functions.txt
var pureFunctionsTxt string

// pureFunctions is pure_functions.txt as a set of schema-qualified names.
var pureFunctions = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(pureFunctionsTxt, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			m["pg_catalog."+line] = true
		}
	}
	return m
}()

// Pure reports whether the function (schema-qualified, as sql.functions
// names it: "pg_catalog.lower") is in the class of side-effect-free
// built-ins.
func Pure(function string) bool { return pureFunctions[function] }

// PureExclusions are the patterns (a name, or a prefix ending in '*') of
// stable and immutable built-ins that are not pure all the same: they
// reveal or reach what a task's tables do not hold, or they act. Volatile
// functions in the same families are listed too, so the class stays safe
// if a release changes a volatility.
var PureExclusions = []string{
	// Writes, waits, signals, locks, notifications: volatile today.
	"nextval", "setval", "currval", "lastval", "pg_sleep*", "pg_terminate_backend",
	"pg_cancel_backend", "pg_advisory_*", "pg_try_advisory_*", "pg_notify", "pg_reload_conf",
	"pg_rotate_logfile*", "pg_promote", "pg_switch_wal", "pg_create_*", "pg_drop_*",
	"pg_replication_*", "pg_logical_*", "pg_log_backend_memory_contexts",
	"pg_import_system_collations", "set_config", "pg_backup_*", "pg_start_backup", "pg_stop_backup",
	"pg_wal_replay_*", "pg_copy_*", "pg_stat_reset*", "pg_stat_clear*", "pg_nextoid",
	// Server settings and configuration files.
	"current_setting", "pg_settings_get_flags", "pg_show_all_settings", "pg_show_all_file_settings",
	"pg_hba_file_rules", "pg_ident_file_mappings", "pg_config", "pg_control_*",
	"pg_conf_load_time", "pg_postmaster_start_time",
	// Files on the server and where relations live on disk.
	"pg_read_file*", "pg_read_binary_file*", "pg_stat_file", "pg_ls_*", "pg_tablespace_location",
	"pg_relation_filepath", "pg_relation_filenode", "pg_filenode_relation", "pg_current_logfile*",
	"pg_walfile_name*", "pg_tablespace_databases",
	// Large objects: data outside the tables rules name.
	"lo_*", "loread", "lowrite",
	// SQL run from a string, out of the classifier's sight.
	"query_to_xml*", "query_to_xmlschema", "table_to_xml*", "cursor_to_xml*", "schema_to_xml*",
	"database_to_xml*", "ts_stat",
	// Other sessions, transactions and statistics (column values, query
	// text, activity).
	"pg_stat_*", "pg_backend_pid", "pg_blocking_pids", "pg_safe_snapshot_blocking_pids",
	"pg_current_snapshot", "pg_current_xact_id*", "txid_*", "pg_snapshot_*", "pg_visible_in_snapshot",
	"pg_xact_*", "pg_last_*", "pg_get_*", "pg_listening_channels", "pg_notification_queue_usage",
	"pg_lock_status", "pg_prepared_xact", "pg_cursor", "pg_prepared_statement",
	"pg_timezone_names", "pg_get_shmem_allocations", "pg_partition_root",
	"inet_client_*", "inet_server_*", "pg_trigger_depth", "pg_is_other_temp_schema",
	"pg_my_temp_schema", "pg_jit_available", "pg_is_in_recovery", "pg_is_wal_replay_paused",
	"pg_get_wal_*", "pg_available_*", "pg_extension_config_dump",
	// Other servers.
	"dblink*",
}

// PureExcluded reports whether a bare function name matches a pattern of
// PureExclusions.
func PureExcluded(name string) bool {
	for _, p := range PureExclusions {
		if pre, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(name, pre) || p == name {
			return true
		}
	}
	return false
}
