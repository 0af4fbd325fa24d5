// Command archlint checks that imports flow one way, as docs/architecture.md draws them.
// make lint runs it from the module root:
//
//	go run ./internal/archlint
//
// It reads the packages with `go list -json ./...` and the imports of single files with
// go/parser, and prints one line per broken rule (exit status 1). The rules are the table
// below; a new package is refused until it is given a layer, so that where it sits is a
// decision, not an accident.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	pkgs, err := load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "archlint:", err)
		os.Exit(2)
	}
	problems := check(pkgs, parseFileImports)
	for _, p := range problems {
		fmt.Println("archlint:", p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
}

// Package is what archlint needs of one package of `go list -json`.
type Package struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
}

func load() ([]Package, error) {
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w", err)
	}
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p Package
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

func parseFileImports(path string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, im := range f.Imports {
		out = append(out, strings.Trim(im.Path.Value, `"`))
	}
	return out, nil
}

const module = "github.com/evroam/evroam/"

// Layers, lowest first. A package may import packages of its own layer or a lower one.
var layers = []struct {
	name     string
	packages []string
}{
	{"foundation", []string{"schema", "internal/apperr", "internal/auth", "internal/paging", "internal/secret",
		"internal/database", "internal/pgcluster", "internal/batch", "internal/tlsfiles", "internal/stationca", "internal/logwriter", "migrations"}},
	{"protocol", []string{"ocpp", "cluster"}},
	{"http", []string{"internal/web"}},
	{"registry", []string{"evse", "locations", "templates", "tariffs", "networks", "chargestations", "stationlogs", "sessions", "tokens", "ocpi", "files", "firmware", "reservations", "proxy"}},
	{"gateway side", []string{"stationreports", "commands"}},
	{"wiring", []string{"cmd/evroam", "internal/archlint", "simulator", "bench"}},
}

// testHelpers are imported by tests only, never by production code (other helpers may).
var testHelpers = []string{"internal/pgtest", "internal/apitest", "internal/ocpppeer", "internal/testca", "ocpp/ocpptest", "commands/commandstest", "ocpi/ocpitest"}

// mayImportOCPP: only these speak OCPP; the registry never does (stationreports and
// cmd/evroam's glue translate).
var mayImportOCPP = []string{"ocpp/ocpptest", "cluster", "commands", "commands/commandstest", "cmd/evroam"}

// httpFree packages never import gin or internal/web. (Only their own imports: stationreports
// builds on feature packages whose handlers know HTTP, and that is fine. The layer rule keeps
// the foundation free of it all the way down.)
var httpFree = []string{"schema", "internal/apperr", "internal/auth", "internal/paging", "internal/secret",
	"internal/database", "internal/pgcluster", "internal/tlsfiles", "internal/stationca", "migrations", "ocpp", "cluster", "stationreports"}

// httpFreeFiles: inside any package, stores, services and models know SQL and rules, not
// HTTP: files with these name prefixes never import gin or internal/web.
var httpFreeFiles = []string{"store", "service", "model", "view"}

const gin = "github.com/gin-gonic/gin"

func isHTTP(path string) bool {
	return path == gin || strings.HasPrefix(path, gin+"/") || path == module+"internal/web"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// check returns every broken rule. fileImports reads the imports of one file.
func check(pkgs []Package, fileImports func(path string) ([]string, error)) []string {
	layerOf := map[string]int{}
	for i, l := range layers {
		for _, p := range l.packages {
			layerOf[p] = i
		}
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, p := range pkgs {
		name := strings.TrimPrefix(p.ImportPath, module)
		helper := contains(testHelpers, name)
		layer, known := layerOf[name]
		if !known && !helper {
			add("%s has no layer: add it to the table in internal/archlint and to docs/architecture.md", name)
			continue
		}
		for _, im := range p.Imports {
			if !strings.HasPrefix(im, module) {
				continue
			}
			dep := strings.TrimPrefix(im, module)
			switch {
			case name == "ocpp":
				add("ocpp imports %s: the gateway imports nothing of ours", dep)
			case contains(testHelpers, dep) && !helper:
				add("%s imports the test helper %s", name, dep)
			case dep == "ocpp" && !contains(mayImportOCPP, name):
				add("%s imports ocpp: only %s speak OCPP", name, strings.Join(mayImportOCPP, ", "))
			case !helper && layerOf[dep] > layer:
				add("%s (%s) imports %s (%s): imports go down the layers only", name, layers[layer].name, dep, layers[layerOf[dep]].name)
			}
		}
		if contains(httpFree, name) {
			for _, im := range p.Imports {
				if isHTTP(im) {
					add("%s imports %s: it must not know HTTP", name, strings.TrimPrefix(im, module))
				}
			}
		}
		for _, f := range p.GoFiles {
			if !hasPrefixIn(f, httpFreeFiles) {
				continue
			}
			ims, err := fileImports(filepath.Join(p.Dir, f))
			if err != nil {
				add("%s/%s: %v", name, f, err)
				continue
			}
			for _, im := range ims {
				if isHTTP(im) {
					add("%s/%s imports %s: stores, services and models do not know HTTP", name, f, strings.TrimPrefix(im, module))
				}
			}
		}
	}
	return problems
}

func hasPrefixIn(file string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(file, p) {
			return true
		}
	}
	return false
}
