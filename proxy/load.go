package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadConfig reads a config file: it expands ${ENV} references in values,
// rejects unknown fields (naming their path and the closest known name), and
// fills defaults. It does not validate: call Validate after applying
// overrides.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := ParseConfig(data, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses config text; lookup resolves ${NAME} references.
func ParseConfig(data []byte, lookup func(string) (string, bool)) (*Config, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	c := &Config{}
	if root.Kind == 0 { // empty file
		c.applyDefaults()
		return c, nil
	}
	var problems []string
	expandEnv(&root, lookup, &problems)
	checkFields(&root, reflect.TypeFor[Config](), "", &problems)
	if len(problems) > 0 {
		return nil, &ConfigError{Problems: problems}
	}
	if err := root.Decode(c); err != nil {
		return nil, &ConfigError{Problems: []string{decodeProblem(err)}}
	}
	c.applyDefaults()
	return c, nil
}

// ConfigError lists every problem in a configuration, one per line, each
// starting with the field's path.
type ConfigError struct{ Problems []string }

func (e *ConfigError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0]
	}
	return fmt.Sprintf("%d problems:\n  %s", len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// decodeProblem shortens yaml's type errors ("line 3: cannot unmarshal !!str
// `abc` into int") into one line.
func decodeProblem(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return err.Error()
}

// expandEnv replaces ${NAME} and ${NAME:-default} in every scalar value.
// $$ stands for a literal $. An unset variable without a default is a
// problem, not an empty string.
func expandEnv(n *yaml.Node, lookup func(string) (string, bool), problems *[]string) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "$") {
		var b strings.Builder
		s := n.Value
		for len(s) > 0 {
			i := strings.IndexByte(s, '$')
			if i < 0 {
				b.WriteString(s)
				break
			}
			b.WriteString(s[:i])
			s = s[i:]
			switch {
			case strings.HasPrefix(s, "$$"):
				b.WriteByte('$')
				s = s[2:]
			case strings.HasPrefix(s, "${"):
				end := strings.IndexByte(s, '}')
				if end < 0 {
					*problems = append(*problems, fmt.Sprintf("line %d: unterminated ${ (write $$ for a literal $)", n.Line))
					return
				}
				name, def, hasDef := strings.Cut(s[2:end], ":-")
				v, ok := lookup(name)
				switch {
				case ok && v != "":
				case hasDef:
					v = def
				case !ok:
					*problems = append(*problems, fmt.Sprintf("line %d: environment variable %s is not set (set it, or write ${%s:-default})", n.Line, name, name))
				}
				b.WriteString(v)
				s = s[end+1:]
			default:
				b.WriteByte('$')
				s = s[1:]
			}
		}
		n.Value = b.String()
		// An expanded number or boolean may fill an int or bool field even
		// when quoted ('${PORT}'); anything else stays a string.
		if _, err := strconv.ParseFloat(n.Value, 64); err == nil || n.Value == "true" || n.Value == "false" {
			n.Tag, n.Style = "", 0
		} else {
			n.Tag = "!!str"
		}
		return
	}
	for _, c := range n.Content {
		expandEnv(c, lookup, problems)
	}
}

// checkFields walks the YAML tree beside the Go type and reports keys the
// type does not have, with their path and the closest known key.
func checkFields(n *yaml.Node, t reflect.Type, path string, problems *[]string) {
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			checkFields(c, t, path, problems)
		}
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // the decoder reports the type mismatch
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			p := joinPath(path, key.Value)
			ft, ok := fields[key.Value]
			if !ok {
				names := make([]string, 0, len(fields))
				for k := range fields {
					names = append(names, k)
				}
				slices.Sort(names)
				msg := fmt.Sprintf("%s: unknown field (line %d)", p, key.Line)
				if s := closest(key.Value, names); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", joinPath(path, s))
				} else {
					msg += "; known fields here: " + strings.Join(names, ", ")
				}
				*problems = append(*problems, msg)
				continue
			}
			checkFields(val, ft, p, problems)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			checkFields(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), problems)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkFields(n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value), problems)
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps a struct's YAML keys to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	return m
}

// closest returns the candidate within edit distance 2 of s, if any.
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
