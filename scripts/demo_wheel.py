#!/usr/bin/env python3
"""demo_wheel.py - write a minimal, valid wheel for the demo (no network).

Usage: demo_wheel.py FOLDER DIST VERSION MODULE
Writes FOLDER/<dist>-<version>-py3-none-any.whl providing top-level MODULE,
so that `pip install --no-index --find-links FOLDER DIST` works offline.
"""
import base64
import hashlib
import os
import sys
import zipfile


def main(folder, dist, version, module):
    norm = dist.replace("-", "_")
    info = "%s-%s.dist-info" % (norm, version)
    files = {
        "%s/__init__.py" % module: "__version__ = %r\n" % version,
        info + "/METADATA": "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (dist, version),
        info + "/WHEEL": "Wheel-Version: 1.0\nGenerator: doctor-demo\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        info + "/top_level.txt": module + "\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append("%s,sha256=%s,%d" % (name, digest.decode(), len(text.encode())))
    files[info + "/RECORD"] = "\n".join(record + [info + "/RECORD,,"]) + "\n"
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "%s-%s-py3-none-any.whl" % (norm, version))
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    print(path)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
