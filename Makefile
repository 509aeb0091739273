# FaceWGAN: the two commands a newcomer needs are `make demo` and `make test`.
SWIFT ?= swift
THREADS ?= 2
PACKAGES = libpng-dev libjpeg-dev libblas-dev libopenblas0-pthread libdnnl-dev libopenmpi-dev openmpi-bin pkg-config
BIN = .build/release

.PHONY: deps build test bench demo clean fuzz

# Installs only the Debian packages that are missing; silent when all are present.
deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing" >&2; \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build -c release

# Numeric code is 10-100x slower in debug builds, so the suite runs in release with testability on.
# OMP_WAIT_POLICY: oneDNN's OpenMP threads would otherwise spin between calls (the tools set it
# themselves, see BLASRuntime.ensureFastKernels; the test process cannot).
test: deps
	$(SWIFT) build -c release -Xswiftc -enable-testing
	OMP_WAIT_POLICY=PASSIVE $(SWIFT) test -c release -Xswiftc -enable-testing

# One JSON line per configuration. Compare with ../shared/bench (TensorFlow, PyTorch) in the same sitting.
bench: build
	@for size in 64 32; do for norm in none layer; do for kernels in "blas fp32" "onednn fp32" "onednn bf16"; do \
	  set -- $$kernels; $(BIN)/facewgan-bench --threads $(THREADS) --size $$size --critic-norm $$norm --backend $$1 --precision $$2; \
	done; done; done
	@THREADS=$(THREADS) BIN=$(BIN) sh bench/train_bench.sh
	@THREADS=$(THREADS) BIN=$(BIN) bash bench/sample_bench.sh
	THREADS=$(THREADS) BIN=$(BIN) sh bench/preprocess_bench.sh
	THREADS=$(THREADS) BIN=$(BIN) sh bench/evaluate_bench.sh
	THREADS=$(THREADS) BIN=$(BIN) sh bench/scaling_bench.sh
	sh bench/sha256_bench.sh

# libFuzzer targets for every parser of untrusted input (Fuzz/), FUZZ_SECONDS each, one after the other;
# crashing inputs land in Tests/Fixtures/fuzz-regressions/<target>/, replayed by `make test`.
FUZZ_SECONDS ?= 300
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh Fuzz/run.sh

demo: build
	./pipeline.sh

clean:
	rm -rf .build out
