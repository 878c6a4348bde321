"""The session store when the disk misbehaves, each fault provoked for real: a full disk (a
small tmpfs, and SQLite's page limit), a read-only data folder (a read-only mount), a damaged
``sessions.db`` (random bytes, a truncated file), a database written by a newer version, and
two processes on one database.

Each test checks what the candidate is told (once, with where the answers are going) and that
nothing they typed is lost: every reply handed to the interview is found again, in order, in
the recovery file and, once the store can write again, in the store.

The mounting tests need root (root ignores permission bits, so only a real read-only or full
filesystem proves anything); without root they fail with a message saying so. Every mount is
undone in the test's teardown.
"""

from __future__ import annotations

import functools
import itertools
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from interviewer.bank import load_bank
from interviewer.cli import cli
from interviewer.config import Settings
from interviewer.engine.events import AwaitingReply, Event, TurnRecorded
from interviewer.headless import load_answers, replies_given, scripted_replies
from interviewer.resources import default_bank_dir
from interviewer.session.plan import plan_interview, plan_resume
from interviewer.session.running import open_session
from interviewer.session.stores import open_recording_store, open_store, recovery_folders
from interviewer.store import SessionStore, StoreError
from interviewer.store.locks import SessionBusyError
from interviewer.store.recovery import find_recovered
from interviewer.transcript import Transcript, Turn
from tests.helpers.faults import fill, mount, read_only, tmpfs

ROOT = Path(__file__).resolve().parent.parent
ANSWERS_FILE = ROOT / "examples" / "answers.json"
ANSWERS = load_answers(ANSWERS_FILE, load_bank(default_bank_dir()))


# ----------------------------------------------------------------------------- real faults


# ----------------------------------------------------------------------------- interviews


def demo_settings(tmp_path: Path, data: Path | None = None) -> Settings:
    return Settings(
        backend="scripted",
        grader="evidence",
        embedding_model="none",
        data_dir=data or tmp_path / "data",
        recovery_dir=tmp_path / "recovery",
    )


class Run:
    """A demo interview driven through the session layer, as every front end drives it; the
    replies come from the example answers file, and each one handed over is remembered."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: SessionStore | None = None,
        on_reply: Callable[[int], None] | None = None,
    ) -> None:
        self._own_store = store is None
        if store is None:
            store, problem = open_recording_store(settings)
        else:
            problem = None
        plan = plan_interview(settings, store, store_problem=problem)
        self.session = open_session(plan, on_status=lambda _: None)
        self.notices: list[str] = []
        self.session.on_notice = self.notices.append
        self.given: list[str] = []
        self._replies = scripted_replies(ANSWERS)
        self._on_reply = on_reply

    def reply_to(self, awaiting: AwaitingReply) -> str:
        if self._on_reply is not None:
            self._on_reply(len(self.given))  # before the n-th reply reaches the store
        text = self._replies(awaiting)
        self.given.append(text)
        return text

    def play(self) -> Transcript:
        transcript = self.session.run(self.reply_to, lambda _: None)
        self.session.close()
        if self._own_store and self.session.store is not None:
            self.session.store.close()
        return transcript


def typed(turns: list[Turn]) -> list[str]:
    return [t.text for t in turns if t.role == "candidate"]


def recovered_session(settings: Settings, session_id: str) -> Any:
    found = [r for r in find_recovered(recovery_folders(settings)) if r.session_id == session_id]
    assert len(found) == 1, [r.session_id for r in found]
    return found[0]


def the_notice(notices: list[str]) -> str:
    """The one notice about the store (there must be exactly one)."""
    said = [n for n in notices if "cannot save this interview" in n]
    assert len(said) == 1, notices
    return said[0]


def stored_everything(settings: Settings, run: Run, final: Transcript) -> SessionStore:
    """Once the store can write again, opening it brings the session in: every reply."""
    store = open_store(settings)
    assert store.integrity() == []
    loaded = store.load_transcript(final.session_id)
    assert loaded.model_copy(update={"regrades": []}) == final
    assert typed(store.turns(final.session_id)) == run.given
    assert not list((settings.recovery_dir or Path("/nonexistent")).glob("*.jsonl"))
    return store


# ----------------------------------------------------------------------------- a full disk


@pytest.mark.root
def test_the_disk_fills_up_mid_interview(tmp_path: Path) -> None:
    """A 1 MiB tmpfs holds the data folder; after the second reply a file fills it."""
    with tmpfs(tmp_path / "data", "size=1m") as data:
        settings = demo_settings(tmp_path, data)
        filler: list[Path] = []
        run = Run(settings, on_reply=lambda n: filler.append(fill(data)) if n == 2 else None)
        final = run.play()
        assert final.status == "finished"  # the interview went on to its end
        notice = the_notice(run.notices)
        assert "database or disk is full" in notice and "interviewer resume" in notice
        assert "free some disk space" in notice  # the store's hint: what to do
        kept = recovered_session(settings, final.session_id)
        # recovery/ beside the database is on the full disk too: the next folder took it
        assert kept.files[0].parent == settings.recovery_dir
        assert str(kept.files[0]) in notice
        assert typed(kept.snapshot.turns) == run.given and len(run.given) > 2
        store = SessionStore(settings.store_path)  # the store itself has the first replies only
        assert typed(store.turns(final.session_id)) == run.given[:2]
        store.close()
        filler[0].unlink()  # space again: the next command brings the session in
        stored_everything(settings, run, final).close()


def test_the_page_limit_is_reached_then_lifted_during_the_interview(tmp_path: Path) -> None:
    """SQLite's own limit (``max_page_count``) as the full disk: the recorder keeps the session
    in the recovery file, and when the store can write again by the end, moves it back."""
    settings = demo_settings(tmp_path)
    store, _ = open_recording_store(settings)
    assert store is not None

    def fault(n: int) -> None:
        if n == 1:
            limit(store)
        if n == 6:
            store._db.execute("PRAGMA max_page_count = 1073741823")

    run = Run(settings, store=store, on_reply=fault)
    final = run.play()
    assert "database or disk is full" in the_notice(run.notices)
    assert run.notices[-1] == f"The session store works again: session {final.session_id} is in it."
    assert typed(store.turns(final.session_id)) == run.given
    assert store.load_transcript(final.session_id).status == "finished"
    assert find_recovered(recovery_folders(settings)) == []


def test_a_full_disk_is_a_store_error_that_says_so(tmp_path: Path, small_bank) -> None:
    """SQLite rolls a transaction back itself when the disk is full; the store's own ROLLBACK
    then raised ``sqlite3.OperationalError: cannot rollback - no transaction is active``, a
    traceback that hid the real cause."""
    from interviewer.engine import EvidenceGrader, Interview
    from interviewer.llm.scripted import ScriptedModel

    store = SessionStore(tmp_path / "sessions.db")
    limit(store)

    def one_more(number: int) -> None:
        interview = Interview(
            small_bank, ScriptedModel(), EvidenceGrader(), session_id=f"s{number}"
        )
        store.create_session(interview.snapshot(), interview.transcript, rubric=[], bank_path=None)

    with pytest.raises(StoreError) as caught:
        for number in range(100):  # the pages there are fill up, and the next one is refused
            one_more(number)
    assert "database or disk is full" in str(caught.value)
    assert "free some disk space" in caught.value.hint
    store._db.execute("PRAGMA max_page_count = 1073741823")
    one_more(100)  # the connection is still usable


def test_a_crash_while_the_disk_is_full_resumes_from_the_recovery_file(tmp_path: Path) -> None:
    """The process dies after the store failed: ``resume`` finds the answers (and the unsent
    draft) in the recovery file while the store still cannot write, and goes on there."""
    settings = demo_settings(tmp_path)
    store, _ = open_recording_store(settings)
    assert store is not None
    limit(store)
    run = Run(settings, store=store)
    session = run.session
    awaiting = [e for e in session.begin() if isinstance(e, AwaitingReply)][-1]
    for _ in range(3):
        events = list(session.reply(run.reply_to(awaiting)))
        awaiting = [e for e in events if isinstance(e, AwaitingReply)][-1]
    session.save_draft("half an answer, typed and not sent", lambda _: None)
    sid = session.session_id
    session.close()  # the process dies here (the OS would release its lock and files)
    store.close()

    still_full = SessionStore(settings.store_path)
    limit(still_full)
    plan = plan_resume(settings, still_full, sid)
    assert plan.recovered is not None and typed(plan.recovered.snapshot.turns) == run.given
    resumed = open_session(plan, on_status=lambda _: None)
    notices: list[str] = []
    resumed.on_notice = notices.append
    assert resumed.draft() == "half an answer, typed and not sent"
    rest = scripted_replies(ANSWERS, replies_given(resumed.interview.turns))
    given = list(run.given)
    final = resumed.run(lambda a: given.append(rest(a)) or given[-1], lambda _: None)
    resumed.close()
    assert final.status == "finished" and len(given) > 3
    assert "cannot take session" in the_notice(notices)
    still_full.close()
    store = open_store(settings)  # a fresh connection has no page limit: it all comes back
    assert typed(store.turns(sid)) == given
    assert store.load_transcript(sid).model_copy(update={"regrades": []}) == final
    assert find_recovered(recovery_folders(settings)) == []


def limit(store: SessionStore) -> None:
    """The database may not grow by one more page (``PRAGMA max_page_count``): a full disk
    for this connection."""
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")


# ----------------------------------------------------------------------------- read-only


@pytest.mark.root
def test_a_read_only_data_folder_from_the_start(tmp_path: Path, monkeypatch) -> None:
    """A new install on a read-only disk: the headless run says where the answers go, goes
    on, and once the disk can be written the session is in the store."""
    with tmpfs(tmp_path / "data", "size=4m", "ro") as data:
        monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(data))
        monkeypatch.setenv("INTERVIEWER_RECOVERY_DIR", str(tmp_path / "recovery"))
        result = CliRunner().invoke(
            cli, ["run", "--headless", "--backend", "scripted", "--answers", str(ANSWERS_FILE)]
        )
        assert result.exit_code == 0, result.output
        out = result.output
        assert out.count("cannot save this interview") == 1
        assert "Read-only file system" in out or "read-only" in out.lower()
        kept = list((tmp_path / "recovery").glob("*.jsonl"))
        assert len(kept) == 1 and str(kept[0]) in out
        assert f"Session {kept[0].name.split('.')[0]} is kept in {kept[0]}" in out
        settings = demo_settings(tmp_path, data)
        (recovered,) = find_recovered(recovery_folders(settings))
        assert typed(recovered.snapshot.turns) == demo_replies()
        mount("-o", "remount,rw", str(data))  # the disk can be written again
        listed = CliRunner().invoke(cli, ["sessions"])
        assert listed.exit_code == 0 and recovered.session_id in listed.output
        exported = CliRunner().invoke(cli, ["export", recovered.session_id, "--format", "json"])
        report = Transcript.model_validate_json(exported.output)
        assert typed(report.turns) == typed(recovered.snapshot.turns)
        assert not kept[0].exists()


@functools.cache
def demo_replies() -> list[str]:
    """Every reply the demo run over the example answers hands to the interview, in order
    (the same run, not saved)."""
    settings = Settings(backend="scripted", grader="evidence", embedding_model="none", save=False)
    session = open_session(plan_interview(settings, None), on_status=lambda _: None)
    given: list[str] = []
    replies = scripted_replies(ANSWERS)
    session.run(lambda a: given.append(replies(a)) or given[-1], lambda _: None)
    return given


@pytest.mark.root
def test_a_data_folder_that_turns_read_only_keeps_its_sessions_readable(tmp_path: Path) -> None:
    """Past sessions on a disk that is now read-only: listing and export still work (the store
    opens read-only), an unfinished session resumes into a recovery file, and everything is
    in the store once the disk is writable again."""
    settings = demo_settings(tmp_path)
    finished = Run(settings).play()
    interrupted = Run(settings)
    awaiting = [e for e in interrupted.session.begin() if isinstance(e, AwaitingReply)][-1]
    list(interrupted.session.reply(interrupted.reply_to(awaiting)))
    sid = interrupted.session.session_id
    interrupted.session.close()
    interrupted.session.store.close()  # type: ignore[union-attr]
    with read_only(settings.store_path.parent):
        store = open_store(settings, must_exist=True)
        assert store.readonly
        assert {s.id for s in store.list_sessions()} == {finished.session_id, sid}
        assert store.load_transcript(finished.session_id) == finished
        plan = plan_resume(settings, store, sid)
        resumed = open_session(plan, on_status=lambda _: None)
        notices: list[str] = []
        resumed.on_notice = notices.append
        rest = scripted_replies(ANSWERS, replies_given(resumed.interview.turns))
        given = list(interrupted.given)
        final = resumed.run(lambda a: given.append(rest(a)) or given[-1], lambda _: None)
        resumed.close()
        notice = the_notice(notices)
        assert "read-only" in notice.lower() and str(settings.recovery_dir) in notice
        store.close()
    store = open_store(settings)
    assert typed(store.turns(sid)) == given and store.load_transcript(sid) == final
    assert store.integrity() == []


def test_plain_mode_says_once_where_the_answers_go(tmp_path: Path, monkeypatch) -> None:
    """--plain with a data folder that cannot be created (a file is in its place)."""
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(blocker))
    monkeypatch.setenv("INTERVIEWER_RECOVERY_DIR", str(tmp_path / "recovery"))
    typed_in = "It renders the chat messages with the model's own Jinja template.\n\n/end\n\n"
    result = CliRunner().invoke(cli, ["run", "--plain", "--backend", "scripted"], input=typed_in)
    assert result.exit_code == 0, result.output
    assert result.output.count("cannot save this interview") == 1
    assert "cannot create the session folder" in result.output
    (kept,) = find_recovered([tmp_path / "recovery"])
    assert typed(kept.snapshot.turns) == [
        "It renders the chat messages with the model's own Jinja template.",
        "/end",
    ]


# ----------------------------------------------------------------------------- damage


def integrity_problems(path: Path) -> list[str]:
    try:
        with sqlite3.connect(path) as db:
            found = [row[0] for row in db.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if found == ["ok"] else found


def _with_sessions(settings: Settings, count: int) -> list[Transcript]:
    return [Run(settings).play() for _ in range(count)]


@pytest.fixture(scope="module")
def three_sessions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding three finished demo sessions (made once; each test damages a copy)."""
    folder = tmp_path_factory.mktemp("pristine")
    settings = demo_settings(folder)
    _with_sessions(settings, 3)
    return settings.store_path


@pytest.mark.parametrize(
    "damage",
    [
        "random bytes at 25%",
        "random bytes at 50%",
        "random bytes at 75%",
        "truncated to half",
        "truncated to 1000 bytes",
    ],
)
def test_a_damaged_database(tmp_path: Path, monkeypatch, damage: str, three_sessions: Path) -> None:
    """Whatever the damage, no command shows a traceback and a new interview loses nothing:
    a file cut short is refused at open (from its header), damage inside it when SQLite reads
    the page (the answers then go to a recovery file), and the hint (move the file aside) gets
    a working store with the new session in it."""
    settings = demo_settings(tmp_path)
    path = settings.store_path
    path.parent.mkdir(parents=True)
    data = bytearray(three_sessions.read_bytes())
    if damage.startswith("random"):
        at = len(data) * int(damage.split()[-1].rstrip("%")) // 100
        data[at : at + 8192] = random.Random(damage).randbytes(8192)
    else:
        data = data[: len(data) // 2] if "half" in damage else data[:1000]
    path.write_bytes(bytes(data))
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("INTERVIEWER_RECOVERY_DIR", str(settings.recovery_dir))
    for command in (["sessions"], ["export", "--format", "md"], ["stats"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code in (0, 1), (command, result.output)
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, SystemExit
        ), (command, result.exception)
        if result.exit_code == 1:
            assert "Error:" in result.output and "what to do:" in result.output
    assert integrity_problems(path), "the damage is real"
    run = Run(settings)
    final = run.play()
    if not run.notices:  # random bytes in pages the new session never reads (old sessions')
        assert damage.startswith("random")
        kept = SessionStore(path)
        assert typed(kept.turns(final.session_id)) == run.given
        kept.close()
        checked = CliRunner().invoke(cli, ["sessions", "--check"])
        assert checked.exit_code == 1
        assert f"{path} is damaged" in checked.output or "malformed" in checked.output
        assert f"mv {path} {path}.damaged" in checked.output
        return
    notice = the_notice(run.notices)
    assert "damaged" in notice and f"mv {path}" in notice
    assert typed(recovered_session(settings, final.session_id).snapshot.turns) == run.given
    path.rename(path.with_name(path.name + ".damaged"))  # what the hint says
    for extra in ("-wal", "-shm"):
        path.with_name(path.name + extra).unlink(missing_ok=True)
    stored_everything(settings, run, final).close()


def test_a_row_whose_json_was_damaged_is_listed_and_named(tmp_path: Path, monkeypatch) -> None:
    """SQLite keeps no checksums: bytes flipped inside a stored transcript read back as text.
    The listing still shows every session; reading that one says it is damaged."""
    settings = demo_settings(tmp_path)
    first, second = _with_sessions(settings, 2)
    with sqlite3.connect(settings.store_path) as db:
        db.execute(
            "UPDATE sessions SET transcript_json = substr(transcript_json, 1, 500) WHERE id = ?",
            (first.session_id,),
        )
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(settings.data_dir))
    listed = CliRunner().invoke(cli, ["sessions"])
    assert listed.exit_code == 0 and first.session_id in listed.output
    assert second.session_id in listed.output
    assert f"The stored transcript of {first.session_id} cannot be read" in listed.output
    exported = CliRunner().invoke(cli, ["export", first.session_id])
    assert exported.exit_code == 1
    assert f"session {first.session_id}: its stored transcript is damaged" in exported.output
    assert "what to do:" in exported.output
    assert CliRunner().invoke(cli, ["export", second.session_id]).exit_code == 0


# ----------------------------------------------------------------------------- a newer version


def test_a_database_written_by_a_newer_version(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path)
    _with_sessions(settings, 1)
    with sqlite3.connect(settings.store_path) as db:
        db.execute(
            "INSERT INTO _migrations (name, applied_at) VALUES ('m099_from_the_future', 'x')"
        )
    run = Run(settings)
    awaiting = [e for e in run.session.begin() if isinstance(e, AwaitingReply)][-1]
    for _ in range(2):
        events = list(run.session.reply(run.reply_to(awaiting)))
        awaiting = [e for e in events if isinstance(e, AwaitingReply)][-1]
    sid = run.session.session_id
    run.session.close()  # interrupted while the database is still the newer one's
    notice = the_notice(run.notices)
    assert "written by a newer interviewer" in notice and "upgrade interviewer" in notice

    store, problem = open_recording_store(settings)
    assert store is None and problem is not None  # still newer: resume from the file
    plan = plan_resume(settings, None, None, store_problem=problem)
    assert plan.resume is not None and plan.resume.id == sid
    resumed = open_session(plan, on_status=lambda _: None)
    resumed.on_notice = lambda _: None
    rest = scripted_replies(ANSWERS, replies_given(resumed.interview.turns))
    given = list(run.given)
    final = resumed.run(lambda a: given.append(rest(a)) or given[-1], lambda _: None)
    resumed.close()
    assert final.status == "finished"
    with sqlite3.connect(settings.store_path) as db:  # as the version that knows m099 would
        db.execute("DELETE FROM _migrations WHERE name = 'm099_from_the_future'")
    store = open_store(settings)
    assert typed(store.turns(sid)) == given and store.load_transcript(sid) == final


# ----------------------------------------------------------------------------- two processes

SLOW_RUN = [sys.executable, "-m", "interviewer", "run", "--headless", "--backend", "scripted"]


def test_two_processes_on_one_database(tmp_path: Path, monkeypatch) -> None:
    """Two headless runs record into one database at once while a third process lists and
    exports it; the third cannot take over a session that one of them is running."""
    data, recovery = tmp_path / "data", tmp_path / "recovery"
    env = {
        **os.environ,
        "INTERVIEWER_DATA_DIR": str(data),
        "INTERVIEWER_RECOVERY_DIR": str(recovery),
        "INTERVIEWER_TEST_DELAY_AFTER_TURN": "0.03",
    }
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(data))
    monkeypatch.setenv("INTERVIEWER_RECOVERY_DIR", str(recovery))
    runs = [
        subprocess.Popen(
            [*SLOW_RUN, "--answers", str(ANSWERS_FILE)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=tmp_path,
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        store: SessionStore | None = None
        while time.monotonic() < deadline:
            if (data / "sessions.db").is_file():
                store = SessionStore(data / "sessions.db")
                if len(store.unfinished()) == 2:
                    break
            time.sleep(0.05)
        assert store is not None and len(store.unfinished()) == 2, "both runs started"
        live = store.unfinished()[0].id
        with pytest.raises(SessionBusyError, match=f"session {live} is open in another"):
            settings = demo_settings(tmp_path, data)
            plan = plan_resume(settings, open_store(settings), live)
            open_session(plan, on_status=lambda _: None)
        exports = 0
        while any(p.poll() is None for p in runs):  # reading while both write
            for command in (["sessions"], ["export", "--format", "md"], ["stats"]):
                result = CliRunner().invoke(cli, command)
                assert result.exit_code == 0, (command, result.output)
                exports += 1
        outputs = [p.communicate(timeout=60)[0] for p in runs]
    finally:
        for process in runs:
            if process.poll() is None:
                process.kill()
    assert [p.returncode for p in runs] == [0, 0], outputs
    assert exports >= 3
    assert not any("cannot save" in out for out in outputs)
    sessions = store.list_sessions()
    assert len(sessions) == 2 and all(s.status == "finished" for s in sessions)
    for summary in sessions:
        assert typed(store.turns(summary.id)) == demo_replies()
    assert store.integrity() == []
    assert not list(recovery.glob("*.jsonl"))


def test_another_program_holding_the_write_lock_too_long(tmp_path: Path) -> None:
    """A second process keeps an exclusive transaction open past the store's busy timeout:
    the answers go to the recovery file, and the next command takes them in once it is gone."""
    settings = demo_settings(tmp_path)
    store, _ = open_recording_store(settings)
    assert store is not None
    store.close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "db.execute('BEGIN EXCLUSIVE'); print('held', flush=True); sys.stdin.readline()\n",
            str(settings.store_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        waiting = SessionStore(settings.store_path, busy_timeout=0.2)
        run = Run(settings, store=waiting)
        final = run.play()
        notice = the_notice(run.notices)
        assert "database is locked" in notice and "another program holds the database" in notice
        assert typed(recovered_session(settings, final.session_id).snapshot.turns) == run.given
    finally:
        holder.communicate("\n", timeout=30)
    waiting.close()
    stored_everything(settings, run, final).close()


def test_an_event_is_shown_only_once_it_is_kept(tmp_path: Path) -> None:
    """Degraded or not, the front end sees a candidate's turn only after a synced record of
    it is on disk (here: in the recovery file)."""
    settings = demo_settings(tmp_path)
    store, _ = open_recording_store(settings)
    assert store is not None
    limit(store)
    run = Run(settings, store=store)
    checked = []

    def shown(event: Event) -> None:
        if isinstance(event, TurnRecorded) and event.turn.role == "candidate":
            (kept,) = find_recovered(recovery_folders(settings), include_live=True)
            assert typed(kept.snapshot.turns)[-1] == event.turn.text
            checked.append(event.turn.text)

    run.session.run(run.reply_to, shown)
    run.session.close()
    assert checked == run.given


def test_a_small_soak(tmp_path: Path) -> None:
    """scripts/soak.py in small: interviews in a row into one database stay sound, and each
    adds about the same to the file (200 of them: benchmarks/RESULTS.md)."""
    settings = demo_settings(tmp_path)
    sizes = []
    for _ in range(5):
        Run(settings).play()
        sizes.append(settings.store_path.stat().st_size)
    store = open_store(settings)
    assert store.integrity() == []
    assert len({s.id for s in store.list_sessions()}) == 5
    assert all(s.status == "finished" for s in store.list_sessions())
    growth = [b - a for a, b in itertools.pairwise(sizes)]
    assert max(growth) <= 1.25 * min(growth), growth
