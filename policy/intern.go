package policy

import (
	"maps"
	"reflect"
	"sync/atomic"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// internProvider spares a decision most of the allocations CEL makes to
// read request fields. CEL hands a rule every string as a ref.Val, and
// boxing a string into one allocates; so do the map value a native map
// field becomes and each value read from it. The provider reads string
// fields of the request types itself and returns a value boxed once at
// compile time when the string is one of the policy's constants (what
// sql.kind, s3.action, s3.bucket, … usually hold), and gives task.labels
// as a map whose keys and values are boxed once per label set. Every
// other field is left to the native type provider it wraps.
type internProvider struct {
	types.Provider
	adapter types.Adapter
	// strings are the boxed constants, set once the rules are compiled
	// and read-only after.
	strings map[string]ref.Val
	labels  atomic.Pointer[boxedLabels]
}

type boxedLabels struct {
	m   map[string]string // a copy of the labels boxed
	val ref.Val
}

// internTypes wraps the environment's provider (the native types one)
// in an internProvider: env.CELTypeProvider() then returns it.
func internTypes() cel.EnvOption {
	return func(env *cel.Env) (*cel.Env, error) {
		return cel.CustomTypeProvider(&internProvider{Provider: env.CELTypeProvider(), adapter: env.CELTypeAdapter()})(env)
	}
}

// goFields maps the CEL struct type name and field name of the request
// types to the Go field's index.
var goFields = func() map[[2]string]int {
	out := map[[2]string]int{}
	for _, t := range []reflect.Type{reflect.TypeFor[Task](), reflect.TypeFor[Conn](), reflect.TypeFor[SQL](),
		reflect.TypeFor[S3](), reflect.TypeFor[HTTP]()} {
		for i := range t.NumField() {
			if name := t.Field(i).Tag.Get("cel"); name != "" {
				out[[2]string{"policy." + t.Name(), name}] = i
			}
		}
	}
	return out
}()

// intern records the constants whose boxed values string fields return.
func (p *internProvider) intern(literals []string) {
	p.strings = make(map[string]ref.Val, len(literals))
	for _, s := range literals {
		p.strings[s] = types.String(s)
	}
}

func (p *internProvider) FindStructFieldType(structType, fieldName string) (*types.FieldType, bool) {
	ft, ok := p.Provider.FindStructFieldType(structType, fieldName)
	idx, ours := goFields[[2]string{structType, fieldName}]
	if !ok || !ours {
		return ft, ok
	}
	native := ft.GetFrom
	out := *ft
	switch {
	case ft.Type.IsExactType(types.StringType):
		out.GetFrom = func(obj any) (any, error) {
			v := reflect.ValueOf(obj)
			if v.Kind() == reflect.Pointer && !v.IsNil() {
				v = v.Elem()
			}
			if v.Kind() != reflect.Struct || v.Type().Name() != structType[len("policy."):] {
				return native(obj)
			}
			s := v.Field(idx).String()
			if b, ok := p.strings[s]; ok {
				return b, nil
			}
			return types.String(s), nil
		}
	case structType == "policy.Task" && fieldName == "labels":
		out.GetFrom = func(obj any) (any, error) {
			t, ok := obj.(*Task)
			if !ok {
				return native(obj)
			}
			if b := p.labels.Load(); b != nil && maps.Equal(b.m, t.Labels) {
				return b.val, nil
			}
			boxed := make(map[ref.Val]ref.Val, len(t.Labels))
			for k, v := range t.Labels {
				boxed[types.String(k)] = types.String(v)
			}
			b := &boxedLabels{m: maps.Clone(t.Labels), val: types.NewRefValMap(p.adapter, boxed)}
			p.labels.Store(b)
			return b.val, nil
		}
	}
	return &out, true
}
