# skbtop's developer targets; every one is a plain go command you can run
# yourself. Run as root: the kernel tests and skbtop itself load BPF.
.PHONY: build generate test lint bench

build: ## Build the skbtop binary.
	go build -o skbtop .

generate: ## Regenerate the BPF object and its Go bindings (needs clang-16, libbpf-dev).
	go generate ./bpf

test: ## Run every test, kernel tests included (as root).
	go test ./...

lint: ## Check formatting and vet.
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"
	go vet ./...

bench: ## Run the Go micro-benchmarks.
	go test -run '^$$' -bench . -benchmem ./...
