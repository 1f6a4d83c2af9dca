# Every target sets itself up on a fresh machine.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint bench man clean vm-prep vm-boot vm-debian

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[test]' --config-settings editable_mode=compat
	sh tools/setup-system.sh
	touch $(STAMP)

lint: venv
	$(VENV)/bin/ruff check upstart tests bench man contrib vm

test: venv lint
	$(VPY) -m pytest -n 4 --dist loadgroup tests

demo: venv
	$(VPY) -m upstart.demo

bench: venv
	$(VPY) bench/run.py

man: venv
	$(VPY) -c 'import docutils' 2>/dev/null || $(VPY) -m pip install -q -e '.[docs]' --config-settings editable_mode=compat
	$(VPY) man/build.py

vm-prep: venv
	$(VPY) -m vm.image

vm-boot: vm-prep
	$(VPY) -m vm.boot

# Debian 12 (mmdebstrap) booted by our init in qemu: login, checks, reboot, poweroff
vm-debian: venv
	$(VPY) -m vm.debian

clean:
	rm -rf $(VENV) build *.egg-info
