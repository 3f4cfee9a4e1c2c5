"""The README's quickstarts, run as a user would: the Python block as a script in a fresh interpreter, the CLI
line through a shell with the installed console script, and ``examples/quickstart.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# The Python block under "Quickstart", verbatim.
SEED_QUICKSTART = '''\
from decepticons import ByteCodec, ByteLatentPredictiveCoder

text = "predictive coding likes repeated structure.\\n" * 64
model = ByteLatentPredictiveCoder()
report = model.fit(text)

prompt = ByteCodec.encode_text("predictive ")
sample = model.generate(prompt, steps=40, greedy=True)

print(report.train_bits_per_byte)
print(ByteCodec.decode_text(sample))
'''
# The CLI line under "Quickstart", verbatim.
SEED_CLI = 'decepticons fit --input ./corpus.txt --prompt "predictive " --generate 80'
SENTENCE = "predictive coding likes repeated structure.\n"
REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}


def test_seed_python_quickstart(tmp_path):
    script = tmp_path / "quickstart.py"
    script.write_text(SEED_QUICKSTART)
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       env=_env())
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    train_bpb = float(lines[0])
    assert 0 <= train_bpb < 0.5, "64 copies of one sentence should be learned almost perfectly"
    # greedy continuation of "predictive " by 40 bytes: the rest of the sentence, then it starts again
    assert "\n".join(lines[1:]) + "\n" == (SENTENCE * 2)[:11 + 40] + "\n"


def test_seed_cli_line(tmp_path):
    (tmp_path / "corpus.txt").write_text(SENTENCE * 64)
    r = subprocess.run(SEED_CLI, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       env=_env())
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "train bits/byte" in r.stdout
    sample = r.stdout.split("--- sample ---\n", 1)[1]
    assert sample.startswith("predictive ")
    assert len(sample.rstrip("\n").encode()) >= 11 + 80 - 1  # prompt + 80 bytes (a final newline is stripped)
    assert "coding likes repeated structure." in sample


def test_example_quickstart(tmp_path):
    r = subprocess.run([sys.executable, str(REPO / "examples" / "quickstart.py"), "--train-bytes", "20000",
                        "--valid-bytes", "5000"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       env=_env())
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.splitlines()[1] == SENTENCE.strip()
    assert "held-out bits/byte" in out and "(identical)" in out and "--- sample" in out
    assert os.listdir(tmp_path) == []  # the example cleans up after itself
