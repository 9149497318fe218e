// The emulated RP2040 of mpmeter's emulator tests: rp2040js running a UF2, driven by JSON lines.
//
//   node tools/rp2emu/emu.mjs --uf2 FILE --bootrom FILE [--flash FILE] [--seed N]
//                             [--device ads131m08]
//
// One chip per process. It reads commands from stdin, one JSON object per line, and
// answers each on stdout with one JSON line {"id": .., ...}; the chip runs only while a
// `run` command is waiting, and between slices of emulated time (SLICE_NS) the host side
// is served (stdin, the UART's TCP bridge). tools/rp2emu.py is the Python client.
//
// What the harness adds to rp2040js 1.4.1 (each workaround of ../shared/toolchain/README.md,
// checked again on 1.4.1):
//   flash    the bootrom's flash_range_erase ('RE') and flash_range_program ('RP') do
//            nothing in rp2040js (no SSI program/erase): a BKPT is put at both entry
//            points and the harness applies NOR semantics (erase to 0xFF, program ANDs)
//            to the flash array, then returns to the caller (PC = LR). `save` writes the
//            2 MiB flash to a file; --flash loads one instead of the UF2 (a reboot).
//   USB CDC  rp2040js answers an OUT read at once with a zero-length packet when it has
//            nothing, and TinyUSB re-arms at once: an interrupt storm. The read is held
//            (NAK) until the host has bytes.
//   ADC      1.4.1 still masks AINSEL with 12 instead of 7 and its round robin skips
//            AIN0 on the wrap: activeChannel and the round-robin step are replaced.
//            Conversions sample the analog model (adc.mjs) at the instant they start.
//   UART     1.4.1 sets the TX interrupt on every check and never clears it: TXRIS is
//            set by each DR write (the byte leaves at once) and cleared by UARTICR. RX
//            bytes are paced at the programmed baud rate (10 bit times per 7E1 or 8N1
//            character) from a host queue or a TCP client on 127.0.0.1 (`uart_listen`).
//   clocks   1.4.1 derives clk_peri from the clock registers (the 48 MHz USB PLL); it is
//            checked after boot (`status` returns clk_peri).
//   cycles   executed cycles (the core running) are counted apart from elapsed time
//            (the core waiting in WFI/WFE): their ratio is the CPU load. A read of
//            SYST_CALIB (0xE000E01C, otherwise constant) returns the executed-cycle
//            counter's low 32 bits, so code on the chip can time itself.
//   power    `cut` stops the core at once (a supply failure): nothing more is executed
//            or written; the flash as it is then can be saved and booted again.
// Not emulated (so not tested here): the watchdog reset, GPIO pulls, XIP cache misses
// (memory has zero wait states), bus contention between DMA and the core.
//
// Commands (fields beyond "cmd" and "id"):
//   run {ms} | {until_ns}       run the chip; answer when the time is reached, or early
//                               with "matched" when `usb_match` (text) appears in the
//                               USB output since the last read
//   usb {data}                  bytes (latin-1 text) to the USB CDC host->device queue
//   read                        the USB output since the last read (and clear it)
//   uart {data}                 bytes to the UART0 RX line (paced)
//   uart_read                   bytes the UART0 sent since the last uart_read
//   uart_listen                 a TCP server on 127.0.0.1 bridged to UART0 -> {port}
//   analog {...}                the analog front end (adc.mjs setAnalog)
//   afe {...}                   with --device ads131m08: its inputs, faults -> counters
//   gpio {pin, value}           drive an input pin (true/false)
//   status                      time, cycles, clocks, ADC, flash writes, pin edges
//   stall {ms}                  time passes with the core stopped (a consumer that does
//                               not run: DMA and peripherals go on)
//   cut                         power cut: the core stops for good
//   save {path}                 write the flash (2 MiB) to a file
//   quit

import fs from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
import { RP2040, USBCDC } from 'rp2040js';
import { decodeBlock } from 'uf2';
import { Analog } from './adc.mjs';
import { ADS131M08 } from './ads131m08.mjs';

const FLASH_BYTES = 2 * 1024 * 1024;
const SLICE_NS = 1e6;                 // 1 ms of emulated time between host services
const CYCLE_NS = 8;                   // 125 MHz
const BKPT_ERASE = 0xe0;
const BKPT_PROGRAM = 0xe1;

function args() {
  const a = {};
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) a[v[i].replace(/^--/, '')] = v[i + 1];
  return a;
}

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function latin1(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

function romFunction(mcu, code) {
  // ROM function table: a 16-bit pointer at 0x14, then (code, address) halfword pairs
  const rd16 = (a) => (mcu.bootrom[a >> 2] >>> ((a & 2) * 8)) & 0xffff;
  let p = rd16(0x14);
  for (;;) {
    const c = rd16(p);
    if (!c) return null;
    if (c === code) return rd16(p + 2);
    p += 4;
  }
}

function patchHalfword(mcu, addr, value) {
  const w = addr >> 2;
  const shift = (addr & 2) * 8;
  mcu.bootrom[w] = ((mcu.bootrom[w] & ~(0xffff << shift)) | (value << shift)) >>> 0;
}

class Chip {
  constructor(opts) {
    this.mcu = new RP2040();
    this.mcu.logger = { debug() {}, info() {}, warn() {}, error(c, m) { process.stderr.write(`${c}: ${m}\n`); } };
    const rom = fs.readFileSync(opts.bootrom);
    this.mcu.loadBootrom(new Uint32Array(rom.buffer, rom.byteOffset, rom.length / 4));
    if (opts.flash) {
      const img = fs.readFileSync(opts.flash);
      this.mcu.flash.set(img.subarray(0, FLASH_BYTES));
    } else {
      const uf2 = fs.readFileSync(opts.uf2);
      for (let off = 0; off + 512 <= uf2.length; off += 512) {
        const b = decodeBlock(uf2.subarray(off, off + 512));
        this.mcu.flash.set(b.payload, b.flashAddress - 0x10000000);
      }
    }
    // the bootrom's own flash boot (boot2 copied to SRAM) parks core 0 in rp2040js: enter
    // boot2 in place at the start of flash, as rp2040js's own examples do
    this.mcu.core.PC = 0x10000000;
    this.executed = 0;            // cycles the core executed
    this.flashWrites = { erase: 0, program: 0, erasedBytes: 0, programmedBytes: 0 };
    this.cutDone = false;
    this.usbOut = [];
    this.uartOut = [];
    this.uartIn = [];
    this.uartSock = null;
    this.edges = {};
    this.hookFlash();
    this.hookUsb();
    this.hookAdc(Number(opts.seed || 1));
    this.hookUart();
    this.hookCycles();
    this.watchPins([9, 10, 11, 12, 16, 17, 18]);
    // --device ads131m08: the 3-phase AFE on SPI0 / GP2..7, its PIO paced (ads131m08.mjs)
    if (opts.device === 'ads131m08') this.device = new ADS131M08(this.mcu);
    else if (opts.device) throw new Error(`unknown device ${opts.device}`);
  }

  get nanos() {
    return this.mcu.clock.nanos;
  }

  hookFlash() {
    const { mcu } = this;
    const code = (s) => s.charCodeAt(0) | (s.charCodeAt(1) << 8);
    this.romErase = romFunction(mcu, code('RE'));
    this.romProgram = romFunction(mcu, code('RP'));
    patchHalfword(mcu, this.romErase & ~1, 0xbe00 | BKPT_ERASE);
    patchHalfword(mcu, this.romProgram & ~1, 0xbe00 | BKPT_PROGRAM);
    mcu.onBreak = (imm) => {
      const core = mcu.core;
      const r = core.registers;
      if (imm === BKPT_ERASE) {
        const addr = r[0] >>> 0;
        const count = r[1] >>> 0;
        mcu.flash.fill(0xff, addr, addr + count);
        this.flashWrites.erase += 1;
        this.flashWrites.erasedBytes += count;
      } else if (imm === BKPT_PROGRAM) {
        const addr = r[0] >>> 0;
        const data = r[1] >>> 0;
        const count = r[2] >>> 0;
        for (let i = 0; i < count; i++) mcu.flash[addr + i] &= mcu.readUint8(data + i);
        this.flashWrites.program += 1;
        this.flashWrites.programmedBytes += count;
      } else {
        this.fault = `BKPT ${imm} at ${(core.PC - 2).toString(16)}`;
        return;
      }
      core.PC = r[14] & ~1;        // return to the caller (thumb bit dropped from LR)
    };
  }

  hookUsb() {
    const cdc = new USBCDC(this.mcu.usbCtrl);
    this.cdc = cdc;
    this.usbIn = [];
    this.usbPending = -1;          // size of an OUT read held until the host has data
    cdc.onSerialData = (buf) => {
      for (const b of buf) this.usbOut.push(b);
    };
    const usb = this.mcu.usbCtrl;
    usb.onEndpointRead = (ep, size) => {
      if (ep !== cdc.outEndpoint) return;
      if (this.usbIn.length) this.usbDeliver(size);
      else this.usbPending = size;
    };
  }

  usbDeliver(size) {
    const n = Math.min(size, this.usbIn.length);
    const buf = Uint8Array.from(this.usbIn.splice(0, n));
    this.mcu.usbCtrl.endpointReadDone(this.cdc.outEndpoint, buf);
  }

  usbWrite(bytes) {
    for (const b of bytes) this.usbIn.push(b);
    if (this.usbPending >= 0 && this.cdc.outEndpoint >= 0) {
      const size = this.usbPending;
      this.usbPending = -1;
      this.usbDeliver(size);
    }
  }

  hookAdc(seed) {
    const adc = this.mcu.adc;
    const AINSEL_SHIFT = 12;
    Object.defineProperty(adc, 'activeChannel', {
      get() { return (this.cs >> AINSEL_SHIFT) & 7; },
      set(ch) { this.cs = (this.cs & ~(7 << AINSEL_SHIFT)) | ((ch & 7) << AINSEL_SHIFT); },
    });
    // the round robin: the next RROBIN input above the one just converted (cyclic);
    // rp2040js steps after pushing the result, so the step is redone here
    const complete = adc.completeADCRead.bind(adc);
    this.analog = new Analog(seed);
    this.conversions = [0, 0, 0, 0, 0];
    adc.completeADCRead = (value, error) => {
      const rr = (adc.cs >> 16) & 0x1f;
      const ch = adc.currentChannel;
      const saveCs = adc.cs;
      adc.cs &= ~(0x1f << 16);            // no round robin inside completeADCRead
      complete(value, error);
      adc.cs = (adc.cs & ~(0x1f << 16)) | (saveCs & (0x1f << 16));
      if (rr) {
        let next = ch;
        for (let k = 1; k <= 5; k++) {
          const c = (ch + k) % 5;
          if (rr & (1 << c)) { next = c; break; }
        }
        adc.activeChannel = next;
      }
    };
    adc.onADCRead = (ch) => {
      adc.currentChannel = ch;
      this.conversions[ch] += 1;
      this.adcCode = this.analog.code(ch, this.nanos * 1e-9);
      adc.sampleAlarm.schedule(adc.sampleTime * 1000);
    };
    adc.channelValues = new Proxy([0, 0, 0, 0, 0], { get: () => this.adcCode });
  }

  hookUart() {
    const uart = this.mcu.uart[0];
    const TXINTR = 1 << 5;
    uart.checkInterrupts = function () {
      this.rp2040.setInterrupt(this.irq, !!(this.interruptStatus & this.interruptMask));
    };
    uart.onByte = (b) => {
      uart.interruptStatus |= TXINTR;     // the byte is gone: the TX FIFO has room
      uart.checkInterrupts();
      this.uartOut.push(b);
      if (this.uartSock) this.uartSock.write(Buffer.from([b]));
    };
    this.uartAlarm = this.mcu.clock.createAlarm(() => this.uartFeed());
    this.uartBusy = false;
  }

  uartCharNs() {
    const baud = this.mcu.uart[0].baudRate || 300;
    return 10 * 1e9 / baud;
  }

  uartWrite(bytes) {
    for (const b of bytes) this.uartIn.push(b);
    if (!this.uartBusy && this.uartIn.length) {
      this.uartBusy = true;
      this.uartAlarm.schedule(this.uartCharNs());
    }
  }

  uartFeed() {
    const uart = this.mcu.uart[0];
    if (this.uartIn.length) {
      const b = this.uartIn.shift();
      if (uart.enabled && uart.rxEnabled) uart.feedByte(b);
    }
    if (this.uartIn.length) this.uartAlarm.schedule(this.uartCharNs());
    else this.uartBusy = false;
  }

  uartListen(cb) {
    const server = net.createServer((sock) => {
      if (this.uartSock) this.uartSock.destroy();
      this.uartSock = sock;
      sock.setNoDelay(true);
      sock.on('data', (d) => this.uartWrite(d));
      sock.on('close', () => { if (this.uartSock === sock) this.uartSock = null; });
      sock.on('error', () => {});
    });
    server.listen(0, '127.0.0.1', () => cb(server.address().port));
    this.server = server;
  }

  hookCycles() {
    const ppb = this.mcu.ppb;
    const read = ppb.readUint32.bind(ppb);
    ppb.readUint32 = (offset) => (offset === 0x1c ? (this.executed >>> 0) : read(offset));
  }

  watchPins(pins) {
    for (const n of pins) {
      this.edges[n] = 0;
      this.mcu.gpio[n].addListener((state, old) => {
        if (state === 1 && old !== 1) this.edges[n] += 1;
      });
    }
  }

  // run the core until emulated time `until` (ns); false if the core stopped
  runTo(until) {
    const { mcu } = this;
    const core = mcu.core;
    const clock = mcu.clock;
    while (clock.nanos < until) {
      if (this.cutDone || this.fault) return false;
      if (core.waiting) {
        const next = clock.nanosToNextAlarm;
        const left = until - clock.nanos;
        clock.tick(next > 0 && next < left ? next : left);
      } else {
        const c = core.executeInstruction();
        this.executed += c;
        clock.tick(c * CYCLE_NS);
      }
    }
    return true;
  }

  // time passes, the core does not run (its state is kept)
  stallTo(until) {
    const clock = this.mcu.clock;
    while (clock.nanos < until) {
      const next = clock.nanosToNextAlarm;
      const left = until - clock.nanos;
      clock.tick(next > 0 && next < left ? next : left);
    }
  }

  status() {
    const { mcu } = this;
    const adc = mcu.adc;
    return {
      ns: this.nanos, executed: this.executed, clk_sys: mcu.clkSys, clk_peri: mcu.clkPeri,
      adc: { div: adc.divider, conversions: this.conversions, cs: adc.cs, fcs: adc.fcs },
      uart_baud: mcu.uart[0].baudRate, flash: this.flashWrites, edges: this.edges,
      fault: this.fault || null, cut: this.cutDone, pc: mcu.core.PC >>> 0,
      waiting: mcu.core.waiting,
      dma: mcu.dma.channels.filter((c) => c.ctrl & 1).map((c) => ({
        ch: c.index, read: c.readAddr >>> 0, write: c.writeAddr >>> 0, count: c.transCount,
        reload: c.transCountReload, ctrl: c.ctrl >>> 0, treq: c.treqValue, chain: c.chainTo })),
    };
  }
}

function main() {
  const opts = args();
  const chip = new Chip(opts);
  const queue = [];
  let current = null;          // the run command being served
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim()) queue.push(line);
  });
  rl.on('close', () => queue.push('{"cmd":"quit"}'));

  const usbText = () => latin1(chip.usbOut);

  function handle(msg) {
    const id = msg.id;
    const bytes = (s) => Array.from(s || '', (c) => c.charCodeAt(0) & 0xff);
    switch (msg.cmd) {
      case 'run': {
        const until = msg.until_ns !== undefined ? msg.until_ns : chip.nanos + msg.ms * 1e6;
        current = { id, until, match: msg.usb_match || null };
        return;
      }
      case 'usb': chip.usbWrite(bytes(msg.data)); break;
      case 'read': {
        const s = usbText();
        chip.usbOut = [];
        reply({ id, data: s });
        return;
      }
      case 'uart': chip.uartWrite(bytes(msg.data)); break;
      case 'uart_read': {
        const s = latin1(chip.uartOut);
        chip.uartOut = [];
        reply({ id, data: s });
        return;
      }
      case 'uart_listen':
        chip.uartListen((port) => reply({ id, port }));
        return;
      case 'analog': chip.analog.set(msg); break;
      case 'afe':                 // the --device's model and counters (ads131m08.mjs)
        if (!chip.device) throw new Error('no --device');
        reply({ id, ...chip.device.command(msg) });
        return;
      case 'gpio': chip.mcu.gpio[msg.pin].setInputValue(!!msg.value); break;
      case 'status': reply({ id, ...chip.status() }); return;
      case 'stall': chip.stallTo(chip.nanos + msg.ms * 1e6); break;
      case 'cut': chip.cutDone = true; break;
      case 'save':
        fs.writeFileSync(msg.path, chip.mcu.flash.subarray(0, FLASH_BYTES));
        break;
      case 'quit':
        reply({ id, ok: true });
        process.exit(0);
        return;
      default:
        reply({ id, error: `unknown command ${msg.cmd}` });
        return;
    }
    reply({ id, ok: true, ns: chip.nanos });
  }

  function serve() {
    while (queue.length && !current) {
      let msg;
      try {
        msg = JSON.parse(queue.shift());
      } catch (e) {
        reply({ error: `bad command: ${e.message}` });
        continue;
      }
      try {
        handle(msg);
      } catch (e) {
        reply({ id: msg.id, error: String(e && e.stack || e) });
      }
    }
    if (current) {
      const t0 = Date.now();
      let alive = true;
      // emulate up to ~20 ms of host time, then let Node serve sockets and stdin
      while (alive && chip.nanos < current.until && Date.now() - t0 < 20) {
        alive = chip.runTo(Math.min(current.until, chip.nanos + SLICE_NS));
        if (current.match && usbText().includes(current.match)) break;
      }
      const matched = current.match && usbText().includes(current.match);
      if (!alive || matched || chip.nanos >= current.until) {
        reply({ id: current.id, ok: alive, matched: !!matched, ns: chip.nanos,
                executed: chip.executed, fault: chip.fault || null, cut: chip.cutDone });
        current = null;
      }
      setImmediate(serve);
    } else {
      setTimeout(serve, 1);
    }
  }
  serve();
}

main();
