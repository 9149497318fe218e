"""CPython stand-in for the `micropython` module (test harness only, never on a board).

Lets firmware modules import under CPython: `const` is identity, the code
emitters are no-ops (firmware picks its plain-Python reference twins when
`sys.implementation.name != "micropython"`), heap locking is a no-op.
"""

import builtins


def const(x):
    return x


def viper(f):
    return f


def native(f):
    return f


def heap_lock():
    return 0


def heap_unlock():
    return 0


def alloc_emergency_exception_buf(n):
    return None


def mem_info(*args):
    return None


def opt_level(*args):
    return 0


def schedule(f, arg):
    f(arg)


# viper annotations are evaluated at def time under CPython; give them names.
for _n in ("ptr", "ptr8", "ptr16", "ptr32", "uint"):
    if not hasattr(builtins, _n):
        setattr(builtins, _n, int)
