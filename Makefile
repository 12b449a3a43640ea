# skbtop's developer targets; every one is a plain go command you can run
# yourself. Run as root: the kernel tests and skbtop itself load BPF.
.PHONY: build generate test lint bench microbench matrix

# The clang bpf/gen.go pins (clang-N); bpf2go strips with llvm-strip-N.
CLANG := $(shell sed -n '/^\/\/go:generate/s/.* -cc \(clang-[0-9][0-9]*\) .*/\1/p' bpf/gen.go | sort -u)
LLVM_STRIP := $(CLANG:clang-%=llvm-strip-%)

build: ## Build the skbtop binary.
	go build -o skbtop .

generate: ## Regenerate the BPF object and its Go bindings (needs the clang pinned in bpf/gen.go).
	@test -n "$(CLANG)" || { echo "no -cc clang-N in bpf/gen.go's go:generate line"; exit 1; }
	@command -v $(CLANG) >/dev/null && command -v $(LLVM_STRIP) >/dev/null || \
		{ echo "generate needs $(CLANG) and $(LLVM_STRIP): apt-get install $(CLANG) $(CLANG:clang-%=llvm-%)"; exit 1; }
	go generate ./bpf

test: ## Run every test, kernel tests included (as root).
	go test ./...

lint: ## Check formatting, vet and staticcheck.
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

matrix: ## Run the kernel tests on this kernel and on each of matrix/kernels under qemu, and print the table (as root).
	matrix/run

bench: ## Measure skbtop against bpftrace and perf; writes BENCHMARKS.md (as root).
	go run ./bench

microbench: ## Run the Go micro-benchmarks.
	go test -run '^$$' -bench . -benchmem ./...
