#!/usr/bin/env python3
"""Writes .npy files whose headers vary in every way the .npy format (and Python's literal syntax) allows
or forbids, loads each with numpy.load, and prints one JSON line per file:
  {"file": ..., "name": ..., "numpy": true/false, "shape": [...] or null, "error": ..., "stricter": reason or null}
`stricter` marks headers numpy.load reads but FaceWGAN's reader refuses on purpose (Python literal syntax no
.npy writer produces; see Sources/FaceWGAN/Formats/NpyHeaderParser.swift). NpyTests.testNumpyCrossCheck
asserts that FaceWGAN reads exactly the others numpy reads, with the same shape.

Usage: npy_header_variants.py DIRECTORY
"""
import io
import json
import os
import struct
import sys
import warnings

import numpy as np

BASE = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"


def wrap(text, version=(1, 0), align=64, end="\n", pad=" "):
    """numpy's _wrap_header with the choices left open: alignment, final line end, padding byte."""
    body = text.encode("latin1") if version < (3, 0) else text.encode("utf8")
    length_size = 2 if version == (1, 0) else 4
    prefix = 6 + 2 + length_size
    end_bytes = end.encode("latin1")
    total = prefix + len(body) + len(end_bytes)
    padding = (-total) % align if align else 0
    header = body + pad.encode("latin1") * padding + end_bytes
    magic = b"\x93NUMPY" + bytes(version)
    return magic + struct.pack("<H" if length_size == 2 else "<I", len(header)) + header


def variants():
    """(name, file bytes before the data, data dtype, data shape, stricter reason or None)."""
    v = []

    def add(name, header, dtype="<f4", shape=(2, 3), stricter=None):
        v.append((name, header, dtype, shape, stricter))

    def dict_(descr="'<f4'", order="False", shape="(2, 3)", sep=", ", colon=": ", trailing=", ", keys=None):
        items = {"descr": descr, "fortran_order": order, "shape": shape}
        names = keys or ["descr", "fortran_order", "shape"]
        return "{" + sep.join(f"'{k}'{colon}{items[k]}" for k in names) + trailing + "}"

    # What numpy itself writes, in every version.
    for version in [(1, 0), (2, 0), (3, 0)]:
        for dtype, shape in [("<f4", (2, 3)), ("|u1", (2, 4, 4, 3)), ("<f4", (5,)), ("<f4", ()), ("<f4", (0, 3))]:
            buffer = io.BytesIO()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "Stored array in format 2.0 / 3.0"
                np.lib.format.write_array(buffer, np.zeros(shape, dtype=dtype), version=version)
            add(f"numpy {version} {dtype} {shape}", buffer.getvalue(), dtype, (0,))  # the data is written already
    add("fortran_order True", wrap(dict_(order="True")))
    add("descr <u1", wrap(dict_(descr="'<u1'", shape="(1, 2, 2, 3)")), "<u1", (1, 2, 2, 3))
    add("double quotes", wrap('{"descr": "<f4", "fortran_order": False, "shape": (2, 3)}'))
    for keys in [["shape", "descr", "fortran_order"], ["fortran_order", "shape", "descr"]]:
        add(f"key order {keys}", wrap(dict_(keys=keys)))
    add("no trailing comma", wrap(dict_(trailing="")))
    add("compact", wrap("{'descr':'<f4','fortran_order':False,'shape':(2,3)}"))
    add("tuple trailing comma", wrap(dict_(shape="(2, 3,)")))
    add("1-tuple spaced", wrap(dict_(shape="( 5 , )")), shape=(5,))
    add("empty tuple spaced", wrap(dict_(shape="( )")), shape=())
    add("all-zero dimension 00", wrap(dict_(shape="(00, 3)")), shape=(0, 3))
    for name, space in [("tab", "\t"), ("form feed", "\f"), ("newline", "\n"), ("carriage return", "\r"),
                        ("CRLF", "\r\n"), ("several", " \t\n ")]:
        add(f"{name} between tokens", wrap(dict_(sep="," + space, colon=space + ":" + space)))
        add(f"{name} inside the tuple", wrap(dict_(shape=f"({space}2{space},{space}3{space})")))
        add(f"{name} before the dict", wrap(space + BASE),
            stricter=None if space in ("\t", " \t\n ") else "before the '{' only spaces and tabs (what literal_eval strips)")
        add(f"{name} after the dict", wrap(BASE + space))
    add("not aligned", wrap(BASE, align=0))
    add("aligned to 16 (numpy < 1.9)", wrap(BASE, align=16))
    add("version 2.0 by hand", wrap(BASE, version=(2, 0)))
    add("version 3.0 by hand", wrap(BASE, version=(3, 0)))

    # Refused by numpy.
    for junk in [" junk", "{}", ",", " 1", " )"]:
        add(f"after the dict: {junk!r}", wrap(BASE + junk))
    for name, byte in [("vertical tab", "\v"), ("NUL", "\0"), ("no-break space", "\xa0")]:
        add(f"{name} between tokens", wrap(dict_(sep="," + byte)))
        add(f"{name} after the dict", wrap(BASE + byte))
    add("descr missing", wrap("{'fortran_order': False, 'shape': (2, 3), }"))
    add("fortran_order missing", wrap("{'descr': '<f4', 'shape': (2, 3), }"))
    add("shape missing", wrap("{'descr': '<f4', 'fortran_order': False, }"))
    add("extra key", wrap("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1, }"))
    add("empty dict", wrap("{}"))
    add("a list", wrap("['<f4', False, (2, 3)]"))
    add("a tuple holding the dict", wrap(BASE + ","))
    add("doubled comma", wrap(dict_(sep=", , ")))
    add("leading comma", wrap("{, 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}"))
    for major, minor in [(1, 1), (2, 1), (3, 1), (4, 0), (0, 0), (0, 1)]:
        header = bytearray(wrap(BASE))
        header[6:8] = bytes([major, minor])
        add(f"version {major}.{minor}", bytes(header))
    for shape in ["(2)", "(2, -3)", "[2, 3]", "(2, 3.0)", "(2, x)", "(2, , 3)", "(,)", "'2, 3'", "None", "(2, 3", "(01, 3)",
                  "(0x1p1, 3)", "(2, 3e0)", "(2, 3j)"]:
        add(f"shape {shape}", wrap(dict_(shape=shape)))
    for order in ["0", "1", "'False'", "false", "None", "Fals", "Falsey"]:
        add(f"fortran_order {order}", wrap(dict_(order=order)))
    for descr in ["'zz'", "1", "None", "'<f4"]:
        add(f"descr {descr}", wrap(dict_(descr=descr)))
    add("unterminated string across a line", wrap("{'descr': '<f4\n', 'fortran_order': False, 'shape': (2, 3)}"))
    add("truncated header", wrap(BASE)[:40] + b"\n", shape=(0,))
    add("header over 10000 bytes", wrap(BASE + " " * 10050, version=(2, 0), align=0))
    add("Python 2 long in 3.0", wrap(dict_(shape="(2L, 3L)"), version=(3, 0)))
    add("boolean dimension", wrap(dict_(shape="(True, 3)")), shape=(1, 3))
    add("non-UTF-8 in 3.0", wrap(BASE, version=(3, 0))[:-2] + b"\xff\n")

    # Read by numpy (ast.literal_eval) but refused here on purpose.
    add("duplicate shape (numpy keeps the last)", wrap(dict_(shape="(1, 3), 'shape': (2, 3)")), stricter="duplicate key")
    add("duplicate descr", wrap("{'descr': '|u1', " + BASE[1:]), stricter="duplicate key")
    add("comment after the dict", wrap(BASE + " # written by hand"), stricter="comment")
    add("no final line end", wrap(BASE, end=""), stricter="no final line end")
    add("backslash continuation", wrap(dict_(sep=", \\\n")), stricter="backslash continuation")
    add("hex dimension", wrap(dict_(shape="(0x2, 3)")), stricter="hex integer")
    add("underscored dimension", wrap(dict_(shape="(1_0, 3)")), shape=(10, 3), stricter="underscore in integer")
    add("unary plus", wrap(dict_(shape="(+2, 3)")), stricter="unary sign")
    add("parenthesised tuple", wrap(dict_(shape="((2, 3))")), stricter="extra parentheses")
    add("parenthesised bool", wrap(dict_(order="(False)")), stricter="extra parentheses")
    add("u prefix", wrap(dict_(descr="u'<f4'")), stricter="string prefix")
    add("string concatenation", wrap(dict_(descr="'<' 'f4'")), stricter="string concatenation")
    add("escape in a string", wrap(dict_(descr="'\\x3cf4'")), stricter="string escape")
    add("escape in a key", wrap("{'descr': '<f4', 'fortran\\x5forder': False, 'shape': (2, 3)}"), stricter="string escape")
    add("triple quotes", wrap(dict_(descr="'''<f4'''")), stricter="triple-quoted string")
    add("Python 2 long in 1.0", wrap(dict_(shape="(2L, 3L)")), stricter="Python 2 long")
    add("dtype spelled f4", wrap(dict_(descr="'f4'")), stricter="dtype not spelled '<f4'")
    add("dtype spelled float32", wrap(dict_(descr="'float32'")), stricter="dtype not spelled '<f4'")
    return v


def main():
    directory = sys.argv[1]
    os.makedirs(directory, exist_ok=True)
    for number, (name, header, dtype, shape, stricter) in enumerate(variants()):
        path = os.path.join(directory, f"variant-{number:03d}.npy")
        with open(path, "wb") as f:
            f.write(header + np.zeros(shape, dtype=dtype).tobytes())
        result = {"file": path, "name": name, "stricter": stricter, "numpy": False, "shape": None, "error": None}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                array = np.load(path)
            result["numpy"] = True
            result["shape"] = list(array.shape)
        except Exception as error:  # numpy raises ValueError, SyntaxError, UnicodeDecodeError, ...
            result["error"] = f"{type(error).__name__}: {error}"[:200]
        print(json.dumps(result))


if __name__ == "__main__":
    main()
