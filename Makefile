# faced — the two commands of the README are `make run` and `make test`.
.PHONY: setup run test race bench build deb deb-check deb-test review-screenshots

setup:
	bash scripts/setup.sh

build:
	go build -ldflags "-X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o bin/ ./cmd/faced
	go build -o bin/ ./cmd/facedctl ./cmd/faced-lab

# Sets everything up, then runs the main job once on the default config.txt:
# analyse every photo in InputDirectory, cluster persons, write sidecars.
run: setup
	bin/faced run --config config.txt --once
	@echo
	bin/facedctl --config config.txt persons list
	@echo
	@# status exits 3 when the daemon is not running, as it is not after --once
	bin/facedctl --config config.txt status || [ $$? -eq 3 ]
	@echo
	@echo "make run: done. Sidecars are next to the photos in var/samples (e.g. var/samples/family.jpg.xmp);"
	@echo "bin/faced run --config config.txt keeps watching the folder; the README tells how to install the service."

# The whole test suite (sets up first: the model tests need the converted models).
test: setup
	go vet ./...
	go test -count=1 -timeout 30m ./...
	bash packaging/deb/check.sh

bench: setup
	go test -run '^$$' -bench . -benchtime 20x ./models/... ./analyzer/... ./cluster/... ./exporters/...

# The Debian package (dpkg-deb): dist/faced_VERSION_ARCH.deb.
deb: setup
	bash packaging/deb/build.sh dist

# The package's contents and lintian, without installing it (part of test).
deb-check: setup
	bash packaging/deb/check.sh

# Installs the package on this machine, runs the service, purges it (root;
# changes the machine, so not part of test). See packaging/deb/test.sh.
deb-test: setup
	bash packaging/deb/test.sh

# Screenshots of every review page, from the browser test (headless Chromium).
review-screenshots: setup
	mkdir -p docs/figures/review
	FACED_REVIEW_SCREENSHOTS=$(CURDIR)/docs/figures/review go test -count=1 -run TestReviewInBrowser ./review
