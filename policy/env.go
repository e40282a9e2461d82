package policy

import (
	"reflect"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
)

// Variables are the names a rule can refer to (DESIGN §4).
var Variables = []string{"task", "conn", "sql", "s3", "http", "now"}

// newEnv builds the CEL environment every rule is compiled in: the request
// variables as typed objects, the ext string, set and list libraries, glob,
// and pure (a function name in the class of side-effect-free built-ins).
func newEnv() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(
			reflect.TypeFor[Task](), reflect.TypeFor[Conn](), reflect.TypeFor[SQL](),
			reflect.TypeFor[S3](), reflect.TypeFor[HTTP](),
			ext.ParseStructTags(true),
		),
		internTypes(),
		cel.Variable("task", cel.ObjectType("policy.Task")),
		cel.Variable("conn", cel.ObjectType("policy.Conn")),
		cel.Variable("sql", cel.ObjectType("policy.SQL")),
		cel.Variable("s3", cel.ObjectType("policy.S3")),
		cel.Variable("http", cel.ObjectType("policy.HTTP")),
		cel.Variable("now", cel.TimestampType),
		ext.Strings(),
		ext.Sets(),
		ext.Lists(),
		cel.Function("glob",
			cel.MemberOverload("string_glob_string",
				[]*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(globBinding)),
		),
		cel.Function("pure",
			cel.MemberOverload("string_pure",
				[]*cel.Type{cel.StringType}, cel.BoolType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					s, ok := v.(types.String)
					return types.Bool(ok && Pure(string(s)))
				})),
		),
	)
}

func globBinding(lhs, rhs ref.Val) ref.Val {
	s, ok1 := lhs.(types.String)
	p, ok2 := rhs.(types.String)
	if !ok1 || !ok2 {
		return types.NewErr("glob: want (string).glob(string)")
	}
	ok, err := Glob(string(s), string(p))
	if err != nil {
		return types.WrapErr(err)
	}
	return types.Bool(ok)
}
