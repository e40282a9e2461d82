// SQL classification: statement text in, one policy.SQL per statement out,
// from PostgreSQL's own parser (pg_query, PostgreSQL 17 grammar).
//
// What it does: splits the text into statements, walks each parse tree
// (protobuf) for every relation and function it names, wherever it names
// them, and normalises each statement's text. It trips the built-in guard
// rails below, which no rule can lift. It refuses, before the parser runs,
// text that could crash the parser (see MaxNesting).
//
// What it does not do: it knows no catalog. It cannot see which schema an
// unqualified name resolves to at run time, what a view, trigger, rule or
// function body touches when it runs (nextval is a function, not a write to
// its sequence), what an operator does, or what a DO block runs; a prepared
// statement's tables are the caller's to remember (Statement.Prepare,
// .Execute).
//
// Guard rails (Statement.Guard):
//
//	COPY … TO/FROM PROGRAM                  "COPY … PROGRAM is never allowed"
//	COPY … TO/FROM 'file' (server file)     "COPY to or from a server file is never allowed"
//	SET/RESET ROLE, SET/RESET SESSION
//	  AUTHORIZATION (also in a function's
//	  or role's SET clause)                 "SET ROLE is never allowed" …
//	set_config(…), anywhere                 "set_config() is never allowed"
//	ALTER SYSTEM                            "ALTER SYSTEM is never allowed"
//	LOAD                                    "LOAD is never allowed" (loads native code)
//	server file access: pg_read_file, pg_read_binary_file, pg_stat_file,
//	  pg_ls_dir, pg_ls_*dir, lo_import, lo_export, adminpack's pg_file_*
//	  and pg_logdir_ls
//	SQL the classifier cannot see: query_to_xml*, table_to_xml*,
//	  schema_to_xml*, database_to_xml*, ts_stat (they run a query or read
//	  a table named in a string)
//	other servers: dblink* (any function whose name starts with dblink)
//	replication: pg_create_{logical,physical}_replication_slot,
//	  pg_logical_slot_* (logical decoding reads every change)
//	db.schema.name where db is not Classifier.Database
//	                                        "cross-database reference …"
//
// Function guards match the bare function name in any schema. CREATE
// EXTENSION, GRANT, CREATE FUNCTION and the like are not guard rails: they
// are kind "ddl", for rules to decide.
//
// Choices rules depend on:
//   - UPDATE, DELETE and MERGE targets are in both writes and reads (they
//     select rows by the target's contents and RETURNING shows them); an
//     INSERT target is also read when it has RETURNING or ON CONFLICT.
//   - INSERT … ON CONFLICT DO UPDATE adds "update" to kinds; MERGE adds the
//     kinds of its WHEN actions.
//   - SELECT … INTO and CREATE TABLE AS are kind "ddl" (with "select" in
//     kinds), never "select".
//   - Plain EXPLAIN is kind "explain"; its statement's kinds and tables are
//     still recorded. EXPLAIN ANALYZE (unless ANALYZE false/off/0) takes the
//     kind of its statement, with "explain" in kinds.
//   - DECLARE … CURSOR takes the kind of its query; FETCH, MOVE and CLOSE
//     are "utility".
//   - GRANT/REVOKE, COMMENT, SECURITY LABEL, TRUNCATE are "ddl"; their tables
//     are writes. VACUUM, ANALYZE, CLUSTER, REINDEX and REFRESH MATERIALIZED
//     VIEW are "utility" with their tables as writes. LOCK is "lock" with
//     its tables as reads. SET CONSTRAINTS is "transaction".
//   - Schema-wide DDL writes "schema.*": CREATE/DROP/ALTER SCHEMA, GRANT …
//     ON ALL … IN SCHEMA, IMPORT FOREIGN SCHEMA … INTO. DROP OWNED,
//     REASSIGN OWNED and ALTER … ALL IN TABLESPACE write "*".
//   - CREATE VIEW reads what the view's query reads (a view runs with its
//     owner's rights); CREATE TABLE … (LIKE t) and REFERENCES t read t;
//     INHERITS/PARTITION OF/ATTACH PARTITION write the parent.
//   - SetParams holds "all" for RESET ALL, SHOW ALL and DISCARD ALL: every
//     parameter, pinned ones included.
//
// Names are rendered as PostgreSQL quotes them (keywords aside): an
// identifier that is not all lower-case letters, digits, _ and $ is
// double-quoted ("My.Schema".t), so a dot always separates schema from name. Unqualified names resolve
// with the pinned search path (Classifier.SearchPath):
//   - the user schema is its first entry other than "$user" (which the
//     classifier cannot resolve), pg_catalog and pg_temp; "public" if none;
//   - a relation or function resolves to the user schema, except built-in
//     catalog relations and common built-in functions (the lists below),
//     which resolve to pg_catalog when pg_catalog is searched first (not
//     listed, or listed before the user schema), as PostgreSQL does. When
//     pg_catalog is listed after the user schema, a built-in name could be
//     shadowed there, so both "user.name" and "pg_catalog.name" are listed.
//     A built-in function missing from the list is reported in the user
//     schema: a rule may deny it, never wrongly allow a user function.
//   - CREATE TEMP TABLE t writes pg_temp.t; later unqualified references to
//     t are reported in the user schema.
//   - unqualified names in CREATE SCHEMA s CREATE TABLE … resolve to s.

package postgres

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// ---- kinds and command tags ----

// topKind is a statement's kind (policy.SQL.Kind).
func topKind(n *pg_query.Node) string {
	switch s := n.GetNode().(type) {
	case *pg_query.Node_SelectStmt:
		if s.SelectStmt.IntoClause != nil {
			return "ddl"
		}
	case *pg_query.Node_ExplainStmt:
		if explainAnalyze(s.ExplainStmt.Options) {
			return topKind(s.ExplainStmt.Query)
		}
	case *pg_query.Node_DeclareCursorStmt:
		return topKind(s.DeclareCursorStmt.Query)
	case nil:
		return "utility"
	}
	r := n.ProtoReflect()
	fd := r.WhichOneof(nodeOneof)
	return ownKind(r.Get(fd).Message().Interface())
}

// ownKind is the kind a statement node adds to Kinds.
func ownKind(m proto.Message) string {
	switch n := m.(type) {
	case *pg_query.SelectStmt:
		return "select"
	case *pg_query.InsertStmt:
		return "insert"
	case *pg_query.UpdateStmt:
		return "update"
	case *pg_query.DeleteStmt:
		return "delete"
	case *pg_query.MergeStmt:
		return "merge"
	case *pg_query.CopyStmt:
		if n.IsFrom {
			return "copy_from"
		}
		return "copy_to"
	case *pg_query.ExplainStmt:
		return "explain"
	case *pg_query.PrepareStmt:
		return "prepare"
	case *pg_query.ExecuteStmt:
		return "execute"
	case *pg_query.DeallocateStmt:
		return "deallocate"
	case *pg_query.VariableSetStmt, *pg_query.VariableShowStmt:
		return "set"
	case *pg_query.TransactionStmt, *pg_query.ConstraintsSetStmt:
		return "transaction"
	case *pg_query.CallStmt:
		return "call"
	case *pg_query.DoStmt:
		return "do"
	case *pg_query.LockStmt:
		return "lock"
	case *pg_query.AlterSystemStmt, *pg_query.LoadStmt, *pg_query.VacuumStmt,
		*pg_query.ClusterStmt, *pg_query.ReindexStmt, *pg_query.RefreshMatViewStmt,
		*pg_query.DiscardStmt, *pg_query.CheckPointStmt, *pg_query.ListenStmt,
		*pg_query.UnlistenStmt, *pg_query.NotifyStmt, *pg_query.FetchStmt,
		*pg_query.ClosePortalStmt, *pg_query.DeclareCursorStmt:
		return "utility"
	}
	name := string(m.ProtoReflect().Descriptor().Name())
	for _, p := range []string{"Create", "Alter", "Drop", "Define", "Comment", "SecLabel",
		"Grant", "Rename", "Reassign", "Import", "Rule", "Truncate", "Index", "View", "CompositeType"} {
		if strings.HasPrefix(name, p) {
			return "ddl"
		}
	}
	return "utility"
}

func explainAnalyze(opts []*pg_query.Node) bool {
	analyze := false
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || d.Defname != "analyze" {
			continue
		}
		analyze = true
		switch a := d.Arg; {
		case a.GetString_() != nil:
			switch strings.ToLower(a.GetString_().Sval) {
			case "false", "off", "0", "no":
				analyze = false
			}
		case a.GetInteger() != nil:
			analyze = a.GetInteger().Ival != 0
		case a.GetBoolean() != nil:
			analyze = a.GetBoolean().Boolval
		case a.GetAConst() != nil:
			if a.GetAConst().GetIval() != nil && a.GetAConst().GetIval().Ival == 0 && !a.GetAConst().Isnull {
				analyze = false
			}
		}
	}
	return analyze
}

// command is the statement's command tag style name.
func command(n *pg_query.Node) string {
	switch s := n.GetNode().(type) {
	case nil:
		return ""
	case *pg_query.Node_SelectStmt:
		if s.SelectStmt.IntoClause != nil {
			return "SELECT INTO"
		}
		return "SELECT"
	case *pg_query.Node_CreateStmt:
		return "CREATE TABLE"
	case *pg_query.Node_CreateTableAsStmt:
		switch {
		case s.CreateTableAsStmt.IsSelectInto:
			return "SELECT INTO"
		case s.CreateTableAsStmt.Objtype == pg_query.ObjectType_OBJECT_MATVIEW:
			return "CREATE MATERIALIZED VIEW"
		}
		return "CREATE TABLE AS"
	case *pg_query.Node_DropStmt:
		return "DROP " + objectName(s.DropStmt.RemoveType)
	case *pg_query.Node_AlterTableStmt:
		return "ALTER " + objectName(s.AlterTableStmt.Objtype)
	case *pg_query.Node_RenameStmt:
		t := s.RenameStmt.RenameType
		if t == pg_query.ObjectType_OBJECT_COLUMN || t == pg_query.ObjectType_OBJECT_TABCONSTRAINT {
			t = s.RenameStmt.RelationType
		}
		return "ALTER " + objectName(t)
	case *pg_query.Node_AlterObjectSchemaStmt:
		return "ALTER " + objectName(s.AlterObjectSchemaStmt.ObjectType)
	case *pg_query.Node_AlterOwnerStmt:
		return "ALTER " + objectName(s.AlterOwnerStmt.ObjectType)
	case *pg_query.Node_TruncateStmt:
		return "TRUNCATE TABLE"
	case *pg_query.Node_IndexStmt:
		return "CREATE INDEX"
	case *pg_query.Node_ViewStmt:
		return "CREATE VIEW"
	case *pg_query.Node_CreateFunctionStmt:
		if s.CreateFunctionStmt.IsProcedure {
			return "CREATE PROCEDURE"
		}
		return "CREATE FUNCTION"
	case *pg_query.Node_GrantStmt:
		if s.GrantStmt.IsGrant {
			return "GRANT"
		}
		return "REVOKE"
	case *pg_query.Node_GrantRoleStmt:
		if s.GrantRoleStmt.IsGrant {
			return "GRANT ROLE"
		}
		return "REVOKE ROLE"
	case *pg_query.Node_TransactionStmt:
		return transactionTags[s.TransactionStmt.Kind]
	case *pg_query.Node_VariableSetStmt:
		if k := s.VariableSetStmt.Kind; k == pg_query.VariableSetKind_VAR_RESET || k == pg_query.VariableSetKind_VAR_RESET_ALL {
			return "RESET"
		}
		return "SET"
	case *pg_query.Node_DiscardStmt:
		return "DISCARD " + strings.TrimPrefix(s.DiscardStmt.Target.String(), "DISCARD_")
	case *pg_query.Node_DeallocateStmt:
		if s.DeallocateStmt.Isall || s.DeallocateStmt.Name == "" {
			return "DEALLOCATE ALL"
		}
		return "DEALLOCATE"
	case *pg_query.Node_VacuumStmt:
		if s.VacuumStmt.IsVacuumcmd {
			return "VACUUM"
		}
		return "ANALYZE"
	case *pg_query.Node_FetchStmt:
		if s.FetchStmt.Ismove {
			return "MOVE"
		}
		return "FETCH"
	case *pg_query.Node_ClosePortalStmt:
		if s.ClosePortalStmt.Portalname == "" {
			return "CLOSE CURSOR ALL"
		}
		return "CLOSE CURSOR"
	case *pg_query.Node_CommentStmt:
		return "COMMENT"
	case *pg_query.Node_SecLabelStmt:
		return "SECURITY LABEL"
	case *pg_query.Node_ConstraintsSetStmt:
		return "SET CONSTRAINTS"
	case *pg_query.Node_RefreshMatViewStmt:
		return "REFRESH MATERIALIZED VIEW"
	case *pg_query.Node_CreateSeqStmt:
		return "CREATE SEQUENCE"
	case *pg_query.Node_AlterSeqStmt:
		return "ALTER SEQUENCE"
	case *pg_query.Node_CreateForeignTableStmt:
		return "CREATE FOREIGN TABLE"
	case *pg_query.Node_CreatedbStmt:
		return "CREATE DATABASE"
	case *pg_query.Node_DropdbStmt:
		return "DROP DATABASE"
	case *pg_query.Node_RuleStmt:
		return "CREATE RULE"
	case *pg_query.Node_CreateTrigStmt:
		return "CREATE TRIGGER"
	case *pg_query.Node_CreatePlangStmt:
		return "CREATE LANGUAGE"
	case *pg_query.Node_CreateStatsStmt:
		return "CREATE STATISTICS"
	case *pg_query.Node_CreateAmStmt:
		return "CREATE ACCESS METHOD"
	case *pg_query.Node_CreateFdwStmt:
		return "CREATE FOREIGN DATA WRAPPER"
	case *pg_query.Node_CreateForeignServerStmt:
		return "CREATE SERVER"
	case *pg_query.Node_DefineStmt:
		return "CREATE " + objectName(s.DefineStmt.Kind)
	case *pg_query.Node_CompositeTypeStmt, *pg_query.Node_CreateEnumStmt, *pg_query.Node_CreateRangeStmt:
		return "CREATE TYPE"
	case *pg_query.Node_AlterEnumStmt:
		return "ALTER TYPE"
	case *pg_query.Node_CheckPointStmt:
		return "CHECKPOINT"
	}
	r := n.ProtoReflect()
	name := string(r.Get(r.WhichOneof(nodeOneof)).Message().Descriptor().Name())
	if tag, ok := simpleTags[name]; ok {
		return tag
	}
	return tagFromType(name)
}

var transactionTags = map[pg_query.TransactionStmtKind]string{
	pg_query.TransactionStmtKind_TRANS_STMT_BEGIN:             "BEGIN",
	pg_query.TransactionStmtKind_TRANS_STMT_START:             "START TRANSACTION",
	pg_query.TransactionStmtKind_TRANS_STMT_COMMIT:            "COMMIT",
	pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK:          "ROLLBACK",
	pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:         "SAVEPOINT",
	pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:           "RELEASE",
	pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:       "ROLLBACK",
	pg_query.TransactionStmtKind_TRANS_STMT_PREPARE:           "PREPARE TRANSACTION",
	pg_query.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED:   "COMMIT PREPARED",
	pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED: "ROLLBACK PREPARED",
}

var simpleTags = map[string]string{
	"InsertStmt": "INSERT", "UpdateStmt": "UPDATE", "DeleteStmt": "DELETE", "MergeStmt": "MERGE",
	"CopyStmt": "COPY", "ExplainStmt": "EXPLAIN", "PrepareStmt": "PREPARE", "ExecuteStmt": "EXECUTE",
	"VariableShowStmt": "SHOW", "CallStmt": "CALL", "DoStmt": "DO", "LockStmt": "LOCK TABLE",
	"ListenStmt": "LISTEN", "UnlistenStmt": "UNLISTEN", "NotifyStmt": "NOTIFY", "LoadStmt": "LOAD",
	"DeclareCursorStmt": "DECLARE CURSOR", "AlterSystemStmt": "ALTER SYSTEM", "ClusterStmt": "CLUSTER",
	"ReindexStmt": "REINDEX", "CreateSchemaStmt": "CREATE SCHEMA", "CreateExtensionStmt": "CREATE EXTENSION",
	"AlterExtensionStmt": "ALTER EXTENSION", "CreateRoleStmt": "CREATE ROLE", "AlterRoleStmt": "ALTER ROLE",
	"AlterRoleSetStmt": "ALTER ROLE", "DropRoleStmt": "DROP ROLE", "CreateDomainStmt": "CREATE DOMAIN",
	"AlterDomainStmt": "ALTER DOMAIN", "CreatePolicyStmt": "CREATE POLICY", "AlterPolicyStmt": "ALTER POLICY",
	"CreatePublicationStmt": "CREATE PUBLICATION", "AlterPublicationStmt": "ALTER PUBLICATION",
	"CreateSubscriptionStmt": "CREATE SUBSCRIPTION", "AlterSubscriptionStmt": "ALTER SUBSCRIPTION",
	"DropSubscriptionStmt": "DROP SUBSCRIPTION", "ImportForeignSchemaStmt": "IMPORT FOREIGN SCHEMA",
	"CreateUserMappingStmt": "CREATE USER MAPPING", "AlterUserMappingStmt": "ALTER USER MAPPING",
	"DropUserMappingStmt": "DROP USER MAPPING", "DropOwnedStmt": "DROP OWNED", "ReassignOwnedStmt": "REASSIGN OWNED",
	"AlterDefaultPrivilegesStmt": "ALTER DEFAULT PRIVILEGES", "AlterFunctionStmt": "ALTER FUNCTION",
	"CreateEventTrigStmt": "CREATE EVENT TRIGGER", "AlterEventTrigStmt": "ALTER EVENT TRIGGER",
	"CreateTableSpaceStmt": "CREATE TABLESPACE", "DropTableSpaceStmt": "DROP TABLESPACE",
	"AlterDatabaseStmt": "ALTER DATABASE", "AlterDatabaseSetStmt": "ALTER DATABASE",
	"CreateCastStmt": "CREATE CAST", "CreateConversionStmt": "CREATE CONVERSION",
	"CreateTransformStmt": "CREATE TRANSFORM", "CreateOpClassStmt": "CREATE OPERATOR CLASS",
	"CreateOpFamilyStmt": "CREATE OPERATOR FAMILY", "AlterOpFamilyStmt": "ALTER OPERATOR FAMILY",
	"AlterOperatorStmt": "ALTER OPERATOR", "AlterTypeStmt": "ALTER TYPE", "AlterStatsStmt": "ALTER STATISTICS",
	"AlterCollationStmt": "ALTER COLLATION", "AlterTableMoveAllStmt": "ALTER TABLE",
}

// tagFromType turns an unlisted node name into a tag: "AlterFdwStmt" → "ALTER FDW".
func tagFromType(name string) string {
	name = strings.TrimSuffix(name, "Stmt")
	var b strings.Builder
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

func objectName(t pg_query.ObjectType) string {
	switch t {
	case pg_query.ObjectType_OBJECT_MATVIEW:
		return "MATERIALIZED VIEW"
	case pg_query.ObjectType_OBJECT_FDW:
		return "FOREIGN DATA WRAPPER"
	case pg_query.ObjectType_OBJECT_FOREIGN_SERVER:
		return "SERVER"
	case pg_query.ObjectType_OBJECT_OPCLASS:
		return "OPERATOR CLASS"
	case pg_query.ObjectType_OBJECT_OPFAMILY:
		return "OPERATOR FAMILY"
	case pg_query.ObjectType_OBJECT_LARGEOBJECT:
		return "LARGE OBJECT"
	case pg_query.ObjectType_OBJECT_STATISTIC_EXT:
		return "STATISTICS"
	case pg_query.ObjectType_OBJECT_TABCONSTRAINT, pg_query.ObjectType_OBJECT_DOMCONSTRAINT:
		return "CONSTRAINT"
	case pg_query.ObjectType_OBJECT_TSCONFIGURATION:
		return "TEXT SEARCH CONFIGURATION"
	case pg_query.ObjectType_OBJECT_TSDICTIONARY:
		return "TEXT SEARCH DICTIONARY"
	case pg_query.ObjectType_OBJECT_TSPARSER:
		return "TEXT SEARCH PARSER"
	case pg_query.ObjectType_OBJECT_TSTEMPLATE:
		return "TEXT SEARCH TEMPLATE"
	}
	return strings.ReplaceAll(strings.TrimPrefix(t.String(), "OBJECT_"), "_", " ")
}
