"""Fetch micropython-lib's `unittest` for the offline MicroPython test path.

On a board the same module comes from `mpremote mip install unittest`. mip
cannot reach its index from CI, so we take the package that micropython-lib
published on PyPI under the name `micropython-unittest` (pinned, hash-checked)
and place its single `unittest.py` in `.venv/mplib/`, which the MicroPython
test runner puts on `sys.path`.
"""

import hashlib
import io
import os
import re
import sys
import tarfile
import urllib.request

NAME = "micropython-unittest"
VERSION = "0.4"
SHA256 = "83b4a65c44b2f6382bc3dd8fbbe002b5679dbfc3744b99eaa59802e6fd14cf67"


def main(dest):
    target = os.path.join(dest, "unittest.py")
    if os.path.exists(target):
        return 0
    index = "https://pypi.org/simple/%s/" % NAME  # PEP 503 simple index
    with urllib.request.urlopen(index, timeout=60) as r:
        page = r.read().decode()
    want = "%s-%s.tar.gz" % (NAME, VERSION)
    links = re.findall(r'href="([^"#]+)', page)
    url = [u for u in links if u.endswith("/" + want)][0]
    with urllib.request.urlopen(url, timeout=60) as r:
        blob = r.read()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != SHA256:
        sys.exit("%s %s: sha256 %s does not match the pin %s" % (NAME, VERSION, digest, SHA256))
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        member = [m for m in tar.getmembers() if m.name.endswith("/unittest.py")][0]
        data = tar.extractfile(member).read()
    os.makedirs(dest, exist_ok=True)
    with open(target + ".tmp", "wb") as f:
        f.write(data)
    os.replace(target + ".tmp", target)
    print("fetched %s %s -> %s" % (NAME, VERSION, target))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".venv/mplib"))
