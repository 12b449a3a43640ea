# skbtop's developer targets; every one is a plain go command you can run
# yourself. Run as root: the kernel tests and skbtop itself load BPF.
.PHONY: build generate test lint bench microbench

build: ## Build the skbtop binary.
	go build -o skbtop .

generate: ## Regenerate the BPF object and its Go bindings (needs clang-16, libbpf-dev).
	go generate ./bpf

test: ## Run every test, kernel tests included (as root).
	go test ./...

lint: ## Check formatting, vet and staticcheck.
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

bench: ## Measure skbtop against bpftrace and perf; writes BENCHMARKS.md (as root).
	go run ./bench

microbench: ## Run the Go micro-benchmarks.
	go test -run '^$$' -bench . -benchmem ./...
