package postgres

import (
	"strings"
)

// ---- guarded and built-in names ----

// DataMark prefixes a second entry in reads for each catalog relation that
// holds data rather than metadata (dataRelations): reading pg_stats lists
// both "pg_catalog.pg_stats" and "data:pg_catalog.pg_stats". A rule that
// allows the catalog by prefix (t.startsWith("pg_catalog.")) therefore
// does not allow them, one that names the entry does, and a deny rule
// naming the relation still matches.
const DataMark = "data:"

// dataRelations are the catalog relations (in pg_catalog; the last in any
// schema) whose rows carry data a task's rules would not otherwise let it
// read: column values (statistics), other sessions' query text, password
// hashes and connection strings, large objects, server configuration.
var dataRelations = set(`pg_statistic pg_statistic_ext_data pg_stats
	pg_stats_ext pg_stats_ext_exprs pg_stat_activity pg_stat_replication
	pg_stat_wal_receiver pg_stat_ssl pg_stat_gssapi pg_authid pg_shadow
	pg_user_mapping pg_user_mappings pg_subscription pg_largeobject
	pg_hba_file_rules pg_ident_file_mappings pg_file_settings
	pg_stat_statements pg_stat_statements_info`)

// withDataMarks returns names with a DataMark entry added for each data
// relation among them.
func withDataMarks(names []string) []string {
	for _, n := range names {
		schema, rel, ok := strings.Cut(n, ".")
		if ok && dataRelations[rel] && (schema == "pg_catalog" || strings.HasPrefix(rel, "pg_stat_statements")) {
			names = append(names, DataMark+n)
		}
	}
	return names
}

// catalogRelations are pg_catalog's tables and views (PostgreSQL 17).
var catalogRelations = set(`pg_aggregate pg_am pg_amop pg_amproc pg_attrdef
	pg_attribute pg_auth_members pg_authid pg_cast pg_class pg_collation
	pg_constraint pg_conversion pg_database pg_db_role_setting pg_default_acl
	pg_depend pg_description pg_enum pg_event_trigger pg_extension
	pg_foreign_data_wrapper pg_foreign_server pg_foreign_table pg_index
	pg_inherits pg_init_privs pg_language pg_largeobject pg_largeobject_metadata
	pg_namespace pg_opclass pg_operator pg_opfamily pg_parameter_acl
	pg_partitioned_table pg_policy pg_proc pg_publication pg_publication_namespace
	pg_publication_rel pg_range pg_replication_origin pg_rewrite pg_seclabel
	pg_sequence pg_shdepend pg_shdescription pg_shseclabel pg_statistic
	pg_statistic_ext pg_statistic_ext_data pg_subscription pg_subscription_rel
	pg_tablespace pg_transform pg_trigger pg_ts_config pg_ts_config_map pg_ts_dict
	pg_ts_parser pg_ts_template pg_type pg_user_mapping
	pg_available_extension_versions pg_available_extensions
	pg_backend_memory_contexts pg_config pg_cursors pg_file_settings pg_group
	pg_hba_file_rules pg_ident_file_mappings pg_indexes pg_locks pg_matviews
	pg_policies pg_prepared_statements pg_prepared_xacts pg_publication_tables
	pg_replication_origin_status pg_replication_slots pg_roles pg_rules
	pg_seclabels pg_sequences pg_settings pg_shadow pg_shmem_allocations pg_stats
	pg_stats_ext pg_stats_ext_exprs pg_tables pg_timezone_abbrevs
	pg_timezone_names pg_user pg_user_mappings pg_views pg_wait_events
	pg_stat_activity pg_stat_all_indexes pg_stat_all_tables pg_stat_archiver
	pg_stat_bgwriter pg_stat_checkpointer pg_stat_database
	pg_stat_database_conflicts pg_stat_gssapi pg_stat_io
	pg_stat_progress_analyze pg_stat_progress_basebackup
	pg_stat_progress_cluster pg_stat_progress_copy pg_stat_progress_create_index
	pg_stat_progress_vacuum pg_stat_recovery_prefetch pg_stat_replication
	pg_stat_replication_slots pg_stat_slru pg_stat_ssl pg_stat_subscription
	pg_stat_subscription_stats pg_stat_sys_indexes pg_stat_sys_tables
	pg_stat_user_functions pg_stat_user_indexes pg_stat_user_tables pg_stat_wal
	pg_stat_wal_receiver pg_stat_xact_all_tables pg_stat_xact_sys_tables
	pg_stat_xact_user_functions pg_stat_xact_user_tables pg_statio_all_indexes
	pg_statio_all_sequences pg_statio_all_tables pg_statio_sys_indexes
	pg_statio_sys_sequences pg_statio_sys_tables pg_statio_user_indexes
	pg_statio_user_sequences pg_statio_user_tables`)

// builtinFunctions are common pg_catalog functions. The list only saves
// false denials: a built-in missing here is reported in the search path's schemas.
var builtinFunctions = set(`
	array_agg avg bit_and bit_or bit_xor bool_and bool_or count every json_agg
	json_agg_strict json_object_agg jsonb_agg jsonb_agg_strict jsonb_object_agg
	max min range_agg range_intersect_agg string_agg sum xmlagg any_value corr
	covar_pop covar_samp regr_avgx regr_avgy regr_count regr_intercept regr_r2
	regr_slope regr_sxx regr_sxy regr_syy stddev stddev_pop stddev_samp variance
	var_pop var_samp mode percentile_cont percentile_disc rank dense_rank
	percent_rank cume_dist row_number ntile lag lead first_value last_value
	nth_value
	abs cbrt ceil ceiling degrees div exp factorial floor gcd lcm ln log log10
	min_scale mod pi power radians random random_normal round scale sign sqrt
	trim_scale trunc width_bucket setseed acos acosd asin asind atan atand atan2
	atan2d cos cosd cot cotd sin sind tan tand sinh cosh tanh asinh acosh atanh
	erf erfc
	ascii bit_length btrim char_length character_length chr concat concat_ws
	convert convert_from convert_to decode encode format initcap left length
	lower lpad ltrim md5 normalize octet_length overlay parse_ident position
	quote_ident quote_literal quote_nullable regexp_count regexp_instr
	regexp_like regexp_match regexp_matches regexp_replace regexp_split_to_array
	regexp_split_to_table regexp_substr repeat replace reverse right rpad rtrim
	split_part starts_with string_to_array string_to_table strpos substr
	substring to_ascii to_hex to_bin to_oct translate unistr upper sha224 sha256
	sha384 sha512 get_bit get_byte set_bit set_byte bit_count crc32 crc32c
	age clock_timestamp date_add date_bin date_part date_subtract date_trunc
	extract isfinite justify_days justify_hours justify_interval make_date
	make_interval make_time make_timestamp make_timestamptz now
	statement_timestamp timeofday transaction_timestamp to_timestamp to_char
	to_date to_number timezone
	to_json to_jsonb array_to_json row_to_json json_build_array
	jsonb_build_array json_build_object jsonb_build_object json_object
	jsonb_object json_array_elements jsonb_array_elements
	json_array_elements_text jsonb_array_elements_text json_array_length
	jsonb_array_length json_each jsonb_each json_each_text jsonb_each_text
	json_extract_path jsonb_extract_path json_extract_path_text
	jsonb_extract_path_text json_object_keys jsonb_object_keys
	json_populate_record jsonb_populate_record json_populate_recordset
	jsonb_populate_recordset json_to_record jsonb_to_record json_to_recordset
	jsonb_to_recordset json_strip_nulls jsonb_strip_nulls jsonb_set
	jsonb_set_lax jsonb_insert jsonb_pretty json_typeof jsonb_typeof
	jsonb_path_exists jsonb_path_match jsonb_path_query jsonb_path_query_array
	jsonb_path_query_first jsonb_path_exists_tz jsonb_path_match_tz
	jsonb_path_query_tz jsonb_path_query_array_tz jsonb_path_query_first_tz
	array_append array_cat array_dims array_fill array_length array_lower
	array_ndims array_position array_positions array_prepend array_remove
	array_replace array_to_string array_upper cardinality trim_array unnest
	array_sample array_shuffle generate_subscripts generate_series num_nulls
	num_nonnulls
	current_database current_query current_schema current_schemas
	current_setting inet_client_addr inet_client_port inet_server_addr
	inet_server_port pg_backend_pid pg_blocking_pids pg_conf_load_time
	pg_current_logfile pg_my_temp_schema pg_is_other_temp_schema
	pg_jit_available pg_listening_channels pg_notification_queue_usage
	pg_postmaster_start_time pg_safe_snapshot_blocking_pids pg_trigger_depth
	version has_table_privilege has_column_privilege has_database_privilege
	has_function_privilege has_schema_privilege has_sequence_privilege
	has_any_column_privilege has_language_privilege has_tablespace_privilege
	has_type_privilege has_parameter_privilege
	has_foreign_data_wrapper_privilege has_server_privilege pg_has_role
	row_security_active pg_table_is_visible pg_type_is_visible
	pg_function_is_visible pg_get_constraintdef pg_get_expr pg_get_functiondef
	pg_get_function_arguments pg_get_function_identity_arguments
	pg_get_function_result pg_get_indexdef pg_get_keywords pg_get_ruledef
	pg_get_serial_sequence pg_get_statisticsobjdef pg_get_triggerdef
	pg_get_userbyid pg_get_viewdef pg_get_partkeydef pg_index_column_has_property
	pg_index_has_property pg_indexam_has_property pg_options_to_table
	pg_tablespace_databases pg_tablespace_location pg_typeof to_regclass
	to_regcollation to_regnamespace to_regoper to_regoperator to_regproc
	to_regprocedure to_regrole to_regtype to_regtypemod format_type
	obj_description col_description shobj_description pg_describe_object
	pg_identify_object pg_column_size pg_column_compression pg_database_size
	pg_indexes_size pg_relation_size pg_size_bytes pg_size_pretty pg_table_size
	pg_tablespace_size pg_total_relation_size pg_relation_filenode
	pg_relation_filepath pg_filenode_relation pg_encoding_to_char
	pg_char_to_encoding pg_client_encoding pg_partition_tree
	pg_partition_ancestors pg_partition_root pg_input_is_valid
	pg_input_error_info pg_settings_get_flags
	txid_current txid_current_if_assigned txid_current_snapshot
	txid_snapshot_xmax txid_snapshot_xmin txid_snapshot_xip
	txid_visible_in_snapshot txid_status pg_current_xact_id
	pg_current_xact_id_if_assigned pg_current_snapshot pg_snapshot_xip
	pg_snapshot_xmax pg_snapshot_xmin pg_visible_in_snapshot pg_xact_status
	pg_xact_commit_timestamp pg_last_committed_xact pg_is_in_recovery
	pg_last_wal_receive_lsn pg_last_wal_replay_lsn
	pg_last_xact_replay_timestamp pg_current_wal_lsn pg_current_wal_insert_lsn
	pg_current_wal_flush_lsn pg_wal_lsn_diff pg_walfile_name pg_sleep
	pg_sleep_for pg_sleep_until pg_advisory_lock pg_advisory_lock_shared
	pg_advisory_unlock pg_advisory_unlock_all pg_advisory_unlock_shared
	pg_advisory_xact_lock pg_advisory_xact_lock_shared pg_try_advisory_lock
	pg_try_advisory_lock_shared pg_try_advisory_xact_lock
	pg_try_advisory_xact_lock_shared pg_notify pg_cancel_backend
	pg_terminate_backend pg_reload_conf pg_rotate_logfile
	nextval currval setval lastval gen_random_uuid uuid_extract_timestamp
	uuid_extract_version
	int2 int4 int8 float4 float8 numeric text varchar bpchar date time
	timestamp timestamptz interval bool char name oid regclass inet cidr
	macaddr bytea json jsonb uuid xml money
	xmlcomment xmltext xpath xpath_exists xml_is_well_formed
	xml_is_well_formed_document xml_is_well_formed_content
	to_tsvector to_tsquery plainto_tsquery phraseto_tsquery
	websearch_to_tsquery ts_rank ts_rank_cd ts_headline setweight strip
	numnode querytree ts_rewrite tsvector_to_array array_to_tsvector ts_delete
	ts_filter get_current_ts_config ts_debug ts_lexize ts_parse ts_token_type
	host hostmask masklen netmask network set_masklen abbrev broadcast family
	inet_merge inet_same_family isempty lower_inc upper_inc lower_inf
	upper_inf range_merge multirange int4range int8range numrange tsrange
	tstzrange daterange int4multirange int8multirange nummultirange
	tsmultirange tstzmultirange datemultirange enum_first enum_last enum_range
	point box circle polygon area center diameter height width radius
	lo_create lo_creat lo_unlink lo_get lo_put lo_from_bytea lo_open lo_close
	loread lowrite lo_lseek lo_lseek64 lo_tell lo_tell64 lo_truncate
	lo_truncate64
	set_config cursor_to_xml cursor_to_xmlschema lo_import lo_export
	pg_read_file pg_read_binary_file pg_stat_file pg_ls_dir pg_ls_logdir
	pg_ls_waldir pg_ls_tmpdir pg_ls_archive_statusdir pg_ls_logicalsnapdir
	pg_ls_logicalmapdir pg_ls_replslotdir query_to_xml query_to_xmlschema
	query_to_xml_and_xmlschema table_to_xml table_to_xmlschema
	table_to_xml_and_xmlschema schema_to_xml schema_to_xmlschema
	schema_to_xml_and_xmlschema database_to_xml database_to_xmlschema
	database_to_xml_and_xmlschema ts_stat pg_create_logical_replication_slot
	pg_create_physical_replication_slot pg_logical_slot_get_changes
	pg_logical_slot_peek_changes pg_logical_slot_get_binary_changes
	pg_logical_slot_peek_binary_changes`)

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}
