package main

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	pkgs := []Package{
		{ImportPath: module + "ocpp", Imports: []string{module + "schema"}},
		{ImportPath: module + "schema", Imports: []string{gin}},
		{ImportPath: module + "locations", Dir: "locations", Imports: []string{module + "ocpp", module + "stationreports"},
			GoFiles: []string{"store.go", "handler.go"}},
		{ImportPath: module + "evse", Imports: []string{module + "internal/pgtest"}},
		{ImportPath: module + "brandnew"},
		{ImportPath: module + "chargestations", Dir: "chargestations", Imports: []string{module + "evse", module + "schema"},
			GoFiles: []string{"service.go", "handler.go"}},
	}
	files := map[string][]string{
		"locations/store.go":        {module + "internal/web"},
		"locations/handler.go":      {gin},
		"chargestations/service.go": {"context"},
	}
	got := check(pkgs, func(path string) ([]string, error) { return files[path], nil })
	want := []string{
		"ocpp imports schema",
		"schema imports github.com/gin-gonic/gin",
		"locations imports ocpp",
		"locations (registry) imports stationreports (gateway side)",
		"locations/store.go imports internal/web",
		"evse imports the test helper internal/pgtest",
		"brandnew has no layer",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("problem %d = %q, want it to start with %q", i, got[i], w)
		}
	}
}
