# evroam: see README.md.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/evroam
DATA  := .data

.PHONY: build run stop readme-check test test-short bench gobench fuzz lint migrate-up peers check

build:
	$(GO) build -o $(BIN) ./cmd/evroam

# run starts evroam serve. Without EVROAM_DATABASE_URL it starts (or reuses) a private
# PostgreSQL whose data lives under .data/. It makes an admin API key (.data/admin-api-key)
# and a secret key (.data/secret-key) once, unless EVROAM_ADMIN_API_KEY / EVROAM_SECRET_KEY
# are set, and keeps evroam's pid in .data/evroam.pid for make stop. DATA=dir moves .data.
run: build
	@mkdir -p $(DATA)
	@if [ -z "$$EVROAM_DATABASE_URL" ]; then \
		url=$$(./$(BIN) localdb --dir $(DATA)/postgres) || exit 1; \
		export EVROAM_DATABASE_URL="$$url"; \
	fi; \
	if [ -z "$$EVROAM_ADMIN_API_KEY" ]; then \
		[ -s $(DATA)/admin-api-key ] || (umask 077; head -c 24 /dev/urandom | base64 | tr '+/' '-_' | sed 's/^/evr_admin_/' > $(DATA)/admin-api-key); \
		export EVROAM_ADMIN_API_KEY="$$(cat $(DATA)/admin-api-key)"; \
	fi; \
	if [ -z "$$EVROAM_SECRET_KEY" ]; then \
		[ -s $(DATA)/secret-key ] || (umask 077; head -c 32 /dev/urandom | base64 > $(DATA)/secret-key); \
		export EVROAM_SECRET_KEY="$$(cat $(DATA)/secret-key)"; \
	fi; \
	echo "Admin API key: $$EVROAM_ADMIN_API_KEY"; \
	echo $$$$ > $(DATA)/evroam.pid; \
	exec ./$(BIN) serve

# stop stops what make run started: evroam serve (by the pid in .data/evroam.pid) and the
# private PostgreSQL under .data/postgres. What is not running is left as it is.
stop: build
	@pidfile=$(DATA)/evroam.pid; \
	if [ -s $$pidfile ]; then \
		pid=$$(cat $$pidfile); \
		comm=$$(cat /proc/$$pid/comm 2>/dev/null || ps -p $$pid -o comm= 2>/dev/null); \
		case "$$comm" in *evroam) \
			kill -TERM $$pid; \
			for i in $$(seq 300); do kill -0 $$pid 2>/dev/null || break; sleep 0.1; done; \
			if kill -0 $$pid 2>/dev/null; then echo "evroam ($$pid) did not stop within 30 s"; exit 1; fi; \
			echo "stopped evroam serve ($$pid)";; \
		esac; \
		rm -f $$pidfile; \
	fi
	@./$(BIN) localdb --dir $(DATA)/postgres --stop

# peers installs the npm test peers (ocpp-rpc, pinned in testpeers/package-lock.json).
peers:
	@if [ -f testpeers/package-lock.json ] && [ ! -d testpeers/node_modules ]; then \
		command -v npm >/dev/null || { echo "npm is needed for the OCPP test peers"; exit 1; }; \
		npm ci --prefix testpeers --no-audit --no-fund; \
	fi

# test runs every test against a real PostgreSQL: EVROAM_TEST_DATABASE_URL if set, else the
# server on 127.0.0.1:5432 if it answers, else a throwaway cluster made with initdb/pg_ctl.
test: peers
	$(GO) test -race -count=1 -timeout 20m ./...

# readme-check runs the shell examples of README.md against a make run of its own (free
# ports, a temporary .data/), then make stop: scripts/readme-examples.
readme-check: build
	./scripts/readme-examples

# bench measures evroam at a CPO's size (bench/main.go): its own PostgreSQL, evroam serve,
# the simulator and pgbench; one table, also written as JSON under bench/results/.
# BENCH_SCALE=0.1 makes a quick run. Go micro-benchmarks: make gobench.
bench: build
	$(GO) run ./bench -evroam $(BIN)

gobench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseEVSEID -fuzztime 30s ./schema
	$(GO) test -run '^$$' -fuzz FuzzDecodeFrame -fuzztime 30s ./ocpp
	$(GO) test -run '^$$' -fuzz FuzzParseVariableRef -fuzztime 30s ./ocpp
	$(GO) test -run '^$$' -fuzz FuzzWriteEndpoints -fuzztime 120s ./cmd/evroam

# lint: formatting, vet, and the import rules of docs/architecture.md (internal/archlint).
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt: $$out"; exit 1; }
	$(GO) vet ./...
	$(GO) run ./internal/archlint

migrate-up: build
	./$(BIN) migrate

check: lint test
