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
