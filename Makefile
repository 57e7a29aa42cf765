# faced — the two commands of the README are `make run` and `make test`.
.PHONY: setup run test race bench build

setup:
	bash scripts/setup.sh

build:
	go build -ldflags "-X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o bin/ ./cmd/faced
	go build -o bin/ ./cmd/facedctl ./cmd/faced-lab

# Sets everything up, then runs the main job once on the default config.txt:
# analyse every photo in InputDirectory, cluster persons, write sidecars.
run: setup
	bin/faced run --config config.txt --once
	bin/facedctl --config config.txt persons list
	@# status exits 3 when the daemon is not running, as it is not after --once
	bin/facedctl --config config.txt status || [ $$? -eq 3 ]

# The whole test suite (sets up first: the model tests need the converted models).
test: setup
	go vet ./...
	go test -count=1 -timeout 30m ./...

bench: setup
	go test -run '^$$' -bench . -benchtime 20x ./models/... ./analyzer/... ./cluster/... ./exporters/...
