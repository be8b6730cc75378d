# Convenience targets; the scripts are the source of truth.
.PHONY: demo test bench bench-quick

demo:
	bash scripts/demo.sh

test:
	bash scripts/test-all.sh

bench:
	bash scripts/bench-all.sh

bench-quick:
	QUICK=1 bash scripts/bench-all.sh
