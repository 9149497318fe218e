"""HT1621 driver and PDC-6X1 glass map, checked against a model of the chip's serial protocol."""

import pytest

from ht1621_model import HT1621Model, decode_pdc6x1, frame
from mpmeter.display import field, glass_pdc6x1
from mpmeter.display.ht1621 import HT1621
from mpmeter.display.lcd import BLINK, OFF, ON, Frame

INIT = ["SYS EN", "RC 256K", "BIAS 1/3 4 COM", "WDT DIS", "LCD ON"]
WRITE_BITS = 3 + 6 + 32 * 4  # ID, address, the whole RAM


@pytest.fixture
def chip():
    c = HT1621Model()
    yield c
    assert c.errors == []  # no protocol error in any test


@pytest.fixture
def lcd(chip):
    d = HT1621(chip.cs, chip.wr, chip.data, glass_pdc6x1)
    d.init()
    return d




def seen(chip):
    assert chip.visible()
    assert bytes(chip.ram[12:]) == bytes(20)  # nothing on the glass there
    return decode_pdc6x1(chip.ram)


def test_init_sequence(chip, lcd):
    assert chip.commands == INIT
    assert chip.system and chip.lcd_on and chip.clock == "RC 256K"
    assert (chip.bias, chip.commons) == (3, 4)
    assert bytes(chip.ram) == bytes(32)  # power-on garbage (0xF in the model) cleared
    assert chip.frames == 3 and chip.write_frames == 1
    assert lcd.width == 6
    assert seen(chip) == ("      ", (False, False, False))


def test_ram_layout_golden(chip, lcd):
    """By hand from the module's facts: '1' in digit 0 is byte 0x60, battery bar 3 adds
    0x80: 0xE0 -> RAM[10] D0..D3 = 1,1,1,0 (nibble 0b0111), RAM[11] = 0. '7' in digit 5
    is 0x70 -> RAM[0] = 0,1,1,1 (0b1110); '8' in digit 4 with its point (the point after
    digit 3) is 0xFF -> RAM[2] = RAM[3] = 0xF."""
    lcd.show(frame("1   87", dots=1 << 3, mains=(OFF, OFF, ON)), 0)
    assert list(chip.ram[:12]) == [0b1110, 0, 0xF, 0xF, 0, 0, 0, 0, 0, 0, 0b0111, 0]
    assert seen(chip) == ("1   .87", (False, False, True))


@pytest.mark.parametrize("n,decimals,want", [
    (123456, 2, "1234.56"), (12345, 3, " 12.345"), (123456, 1, "12345.6"),
    (-12345, 1, "-1234.5"), (42, 0, "    42"), (7, 2, "   0.07")])
def test_value_field(chip, lcd, n, decimals, want):
    text, dots = field.number(n, -decimals, decimals, width=6)
    assert lcd.show(frame(text, dots), 0)
    assert seen(chip)[0] == want
    assert chip.write_frames == 2 and chip.bits == (3 + 4 * 9) + (3 + 9) + 2 * WRITE_BITS


def test_letters(chip, lcd):
    lcd.show(frame(" -OFL-"), 0)
    assert seen(chip)[0] == " -0FL-"  # the model reads O and 0 alike
    lcd.show(frame("Err 01"), 0)
    assert seen(chip)[0] == "Err 01"


def test_ident_then_value(chip, lcd):
    f = frame("123456", 1 << 3, ident="1.8.0", since=1000)
    assert lcd.show(f, 1000)
    assert seen(chip)[0] == "   1.8.0"  # id points after positions 3 and 4: on the glass
    assert not lcd.show(f, 2999)
    assert lcd.show(f, 3000)
    assert seen(chip)[0] == "1234.56"
    assert not lcd.show(f, 9000)


def test_ident_points_the_glass_lacks_are_dropped(chip, lcd):
    f = frame("012345", 1 << 2, ident="1.8.0*01", since=0)
    lcd.show(f, 0)
    assert seen(chip)[0] == "180-01"
    lcd.show(f, 2000)
    assert seen(chip)[0] == "012.345"


def test_ident_across_ticks_wrap(chip, lcd):
    f = frame("     1", ident="2.8.0", since=(1 << 30) - 500)
    lcd.show(f, 1499)  # 1999 ms after since, ticks_ms wrapped
    assert seen(chip)[0] == "   2.8.0"
    lcd.show(f, 1500)
    assert seen(chip)[0] == "     1"


def test_ident_too_long(chip, lcd):
    with pytest.raises(ValueError):
        lcd.show(frame(ident="1.8.0*101"), 0)


def test_mains_bars_and_blink(chip, lcd):
    f = frame("     0", mains=(ON, BLINK, OFF))
    assert lcd.show(f, 0)
    assert seen(chip)[1] == (True, True, False)
    assert not lcd.show(f, 499)
    assert lcd.show(f, 500)  # BLINK dark in the second half of the second
    assert seen(chip)[1] == (True, False, False)
    assert not lcd.show(f, 999)
    assert lcd.show(f, 1000)
    assert seen(chip)[1] == (True, True, False)
    f.mains = (OFF, OFF, BLINK)
    lcd.show(f, 1250)
    assert seen(chip)[1] == (False, False, True)
    f.mains = (ON,)  # single phase: bar 1
    lcd.show(f, 1250)
    assert seen(chip) == ("     0", (True, False, False))


def test_unchanged_image_not_rewritten(chip, lcd):
    f = frame("  1234", mains=(ON, ON, ON))
    assert lcd.show(f, 0)
    bits = chip.bits
    for t in (1, 100, 5000, 123456):
        assert not lcd.show(f, t)
    g = frame("  1234", mains=(ON, ON, ON), since=77)  # another Frame, same picture
    assert not lcd.show(g, 7)
    assert chip.bits == bits
    g.value = "  1235"
    assert lcd.show(g, 7)
    assert chip.bits == bits + WRITE_BITS


def test_glyph_outside_the_font(chip, lcd):
    lcd.show(frame("  1234"), 0)
    with pytest.raises(ValueError):
        lcd.show(frame("  12x4"), 0)
    with pytest.raises(ValueError):
        lcd.show(frame(ident="1.8.Z"), 0)
    assert seen(chip)[0] == "  1234"  # nothing written
    assert lcd.show(frame("  1235"), 0)
    assert seen(chip)[0] == "  1235"


@pytest.mark.parametrize("k", [0, 1, 5])
def test_point_where_the_glass_has_none(chip, lcd, k):
    with pytest.raises(ValueError):
        lcd.show(frame("123456", 1 << k), 0)


def test_frame_of_another_width(chip, lcd):
    f = Frame(width=8)
    f.value = "  123456"
    with pytest.raises(ValueError):
        lcd.show(f, 0)


def test_clear(chip, lcd):
    f = frame("888888", 0b11100, mains=(ON, ON, ON))
    lcd.show(f, 0)
    assert seen(chip) == ("888.8.8.8", (True, True, True))
    lcd.clear()
    assert bytes(chip.ram) == bytes(32)
    assert lcd.show(f, 0)  # the chip was cleared: the same picture is written again
    assert seen(chip)[0] == "888.8.8.8"


def test_off_and_on_again(chip, lcd):
    lcd.show(frame("   123"), 0)
    lcd.off()
    assert chip.commands[-2:] == ["LCD OFF", "SYS DIS"]
    assert not chip.system and not chip.lcd_on
    lcd.init()
    assert chip.commands[-5:] == INIT and chip.visible()
    assert bytes(chip.ram) == bytes(32)
    assert lcd.show(frame("   123"), 0)


def test_show_without_init_writes(chip):
    d = HT1621(chip.cs, chip.wr, chip.data, glass_pdc6x1)
    assert d.show(frame("      "), 0)  # unknown chip RAM: written even though blank
    assert bytes(chip.ram) == bytes(32)
    assert not chip.visible()


def test_model_flags_protocol_errors():
    """The model is a referee: it must catch what a broken driver would do."""
    c = HT1621Model()

    def clock(*bits):
        for b in bits:
            c.wr.value(0)
            c.data.value(b)
            c.wr.value(1)

    clock(1)
    assert c.errors == ["WR rising edge with CS high"]
    c.cs.value(0)
    clock(1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1)  # write, address 0, 3 bits of a nibble
    c.cs.value(1)
    assert "mid-nibble" in c.errors[-1]
    c.cs.value(0)
    clock(1, 0, 0, 0, 0, 0, 0, 0, 0, 1)  # command with 7 of 9 bits
    c.cs.value(1)
    assert "mid-command" in c.errors[-1]
    c.cs.value(0)
    clock(1, 1, 1, 0, 0)
    c.cs.value(1)
    assert "unknown mode ID 111" in c.errors
    c.cs.value(0)
    clock(1, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0)  # BIAS with ab = 11
    c.cs.value(1)
    assert c.errors[-1] == "unknown command 0x2c"
    n = len(c.errors)
    c.cs.value(0)
    clock(1, 0, 1, 0, 1, 1, 1, 1, 1)  # write at address 31, wraps to 0
    clock(1, 0, 0, 0, 0, 1, 0, 0)
    c.cs.value(1)
    assert len(c.errors) == n
    assert c.ram[31] == 0b0001 and c.ram[0] == 0b0010
