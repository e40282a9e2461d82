package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Source is one input log.
type Source struct {
	Name string
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Expand turns command-line inputs into logs: a file is itself; a
// directory is every *.jsonl below it; a pattern with *, ? or [ is
// expanded as a glob (directories it matches are walked too); s3://bucket/prefix
// is every *.jsonl object under the prefix (or the one object it names).
func Expand(ctx context.Context, args []string) ([]Source, error) {
	var out []Source
	var s3 *s3Lister
	for _, a := range args {
		if strings.HasPrefix(a, "s3://") {
			if s3 == nil {
				l, err := newS3Lister(ctx)
				if err != nil {
					return nil, err
				}
				s3 = l
			}
			srcs, err := s3.expand(ctx, a)
			if err != nil {
				return nil, err
			}
			out = append(out, srcs...)
			continue
		}
		paths := []string{a}
		if strings.ContainsAny(a, "*?[") {
			m, err := filepath.Glob(a)
			if err != nil {
				return nil, fmt.Errorf("expand %q: %w", a, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("expand %q: nothing matches", a)
			}
			paths = m
		}
		for _, p := range paths {
			srcs, err := expandPath(p)
			if err != nil {
				return nil, err
			}
			out = append(out, srcs...)
		}
	}
	return out, nil
}

func expandPath(p string) ([]Source, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("read input: %w", err)
	}
	if !st.IsDir() {
		return []Source{fileSource(p)}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".jsonl") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", p, err)
	}
	if len(files) == 0 {
		return nil, errors.New("walk " + p + ": no *.jsonl files")
	}
	slices.Sort(files)
	out := make([]Source, len(files))
	for i, f := range files {
		out[i] = fileSource(f)
	}
	return out, nil
}

func fileSource(p string) Source {
	return Source{Name: p, Open: func(context.Context) (io.ReadCloser, error) { return os.Open(p) }}
}
