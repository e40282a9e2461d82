package secret_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"

	"github.com/airlockproxy/airlock/proxy/secret"
)

const canary = "canary-7f3e9a-SECRET"

type holder struct {
	User     string
	Password secret.Secret
}

func TestNeverPrints(t *testing.T) {
	s := secret.New(canary)
	h := holder{User: "u", Password: s}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h))
	}
	outs = append(outs, fmt.Sprint(s), fmt.Sprintln(s, h), s.String(), s.GoString())
	outs = append(outs, fmt.Errorf("dial: %w: %v", errors.New("x"), s).Error())
	for _, v := range []any{s, h, &h, []secret.Secret{s}, map[string]secret.Secret{"k": s}} {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		y, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, string(j), string(y))
	}
	var zl bytes.Buffer
	log := zerolog.New(&zl)
	log.Info().Interface("h", h).Stringer("s", s).Object("o", s).Any("a", s).Msgf("%v", s)
	var sl bytes.Buffer
	slog.New(slog.NewJSONHandler(&sl, nil)).Info("m", "s", s, "h", h)
	slog.New(slog.NewTextHandler(&sl, nil)).Info("m", "s", s)
	outs = append(outs, zl.String(), sl.String())
	for _, o := range outs {
		if strings.Contains(o, canary) || strings.Contains(o, fmt.Sprintf("%x", canary)) {
			t.Fatalf("secret leaked: %s", o)
		}
	}
	if !strings.Contains(zl.String(), secret.Redacted) || !strings.Contains(sl.String(), secret.Redacted) {
		t.Fatalf("logs should show the redaction: %s %s", zl.String(), sl.String())
	}
	if s.Reveal() != canary || !s.Equal(secret.New(canary)) || s.IsZero() || !(secret.Secret{}).IsZero() {
		t.Fatal("Reveal/Equal/IsZero")
	}
}
