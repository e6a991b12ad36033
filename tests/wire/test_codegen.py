"""roost/wire/record_codecs.py is generated from the layouts in roost/wire/records.py by
src/roost/wire/codegen.py: the checked-in file must be exactly what the generator writes
(edit records.py and regenerate, never the generated file)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from roost.wire import codegen
from roost.wire import records as R
from roost.wire.record_codecs import enc_Id, read_Id
from roost.wire.recordbase import install

GENERATED = Path(codegen.__file__).with_name("record_codecs.py")


def test_the_checked_in_codecs_are_what_the_generator_writes() -> None:
    assert GENERATED.read_text() == codegen.render(), (
        "roost/wire/record_codecs.py is stale or was edited: run python3 src/roost/wire/codegen.py"
    )


def test_the_generator_runs_as_a_file_and_checks() -> None:
    # as documented: a plain file, so a stale generated module cannot stop it from running
    script = Path(codegen.__file__)
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                          text=True, timeout=60, check=False, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr


def test_check_fails_on_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "record_codecs.py"
    stale.write_text(GENERATED.read_text().replace("enc_Id(", "enc_Id2(", 1))
    monkeypatch.setattr(codegen, "TARGET", stale)
    assert codegen.main(["--check"]) == 1
    assert codegen.main([]) == 0 and stale.read_text() == codegen.render()
    assert codegen.main(["--check"]) == 0


def test_every_registered_record_has_generated_codecs() -> None:
    layouts = codegen.read_layouts(codegen.SOURCE.read_text())
    names = {rec.name for rec in layouts}
    assert "Stat" in names and "CreateRequest" in names and "ConnectRequest" not in names
    for name in names:
        cls = getattr(R, name)
        assert cls.__dict__["read"].__func__.__name__ == f"read_{name}"


def test_importing_the_records_alone_installs_their_codecs() -> None:
    # records.py does not import the generated module (that imports records.py); the
    # package roost.wire does, and Python runs it before any module in it
    code = ("import sys\nfrom roost.wire.records import Stat\n"
            "print(Stat.read.__func__.__name__, Stat(*range(11)).to_bytes()[:8].hex())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["read_Stat", "0000000000000000"]


def test_a_new_record_gets_a_reader_and_writer() -> None:
    source = codegen.SOURCE.read_text() + (
        "\n\n@jute_record\n@dataclass(slots=True)\nclass Fresh(Record):\n"
        '    _layout = "when:l who:n acl:[ACL] stat:Stat"\n'
        "    when: int\n    who: str | None\n    acl: list[ACL]\n    stat: Stat\n"
    )
    text = codegen.render(source)
    assert "def dec_Fresh(buf: bytes, pos: int, end: int) -> tuple[Fresh, int]:" in text
    assert "_V_Fresh_acl: Final = RecentVectors(dec_ACL)" in text
    assert "    v_stat, pos = dec_Stat(buf, pos, end)" in text
    assert '"Fresh"' in text.split("check_installed(")[1]
    compile(text, "record_codecs.py", "exec")  # valid Python


@pytest.mark.parametrize(("body", "error"), [
    ('    _layout = "a:i b:s"\n    a: int\n', "does not match fields"),
    ('    _layout = "a:Nope"\n    a: int\n', "not a record declared above"),
    ('    _layout = "a"\n    a: int\n', "bad layout item"),
    ("    a: int\n", "no _layout"),
])
def test_a_bad_layout_is_refused(body: str, error: str) -> None:
    source = f"@jute_record\n@dataclass(slots=True)\nclass Bad(Record):\n{body}"
    with pytest.raises(ValueError, match=error):
        codegen.render(source)


def test_install_refuses_codecs_generated_from_another_layout() -> None:
    with pytest.raises(ImportError, match="out of date for Id"):
        install(R.Id, "scheme:s", read_Id, enc_Id)
