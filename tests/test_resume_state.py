"""Which saved training state a restarted job resumes from (storage.load_resume_state)."""

import logging

import torch

from ganprint.storage import load_resume_state, save_resume_state


def test_a_state_of_the_same_settings_is_resumed(tmp_path):
    save_resume_state(tmp_path / "run.resume.pt", "settings-a", {"epoch": 3, "weights": torch.ones(2)})
    state = load_resume_state(tmp_path / "run.resume.pt", "settings-a")
    assert state["epoch"] == 3 and torch.equal(state["weights"], torch.ones(2))


def test_a_state_of_other_settings_is_ignored_with_a_warning(tmp_path, caplog):
    save_resume_state(tmp_path / "run.resume.pt", "settings-a", {"epoch": 3})
    with caplog.at_level(logging.WARNING, logger="ganprint.storage"):
        assert load_resume_state(tmp_path / "run.resume.pt", "settings-b") is None
    assert "run.resume.pt: it was written with other settings" in caplog.text


def test_an_unreadable_or_corrupted_state_starts_afresh_with_a_warning(tmp_path, caplog):
    (tmp_path / "truncated.resume.pt").write_bytes(b"PK\x03\x04 cut short")
    weights = torch.arange(64, dtype=torch.float32)
    save_resume_state(tmp_path / "corrupted.resume.pt", "settings-a", {"weights": weights})
    contents = bytearray((tmp_path / "corrupted.resume.pt").read_bytes())
    contents[contents.index(weights.numpy().tobytes()) + 1] ^= 1  # one bit of one weight
    (tmp_path / "corrupted.resume.pt").write_bytes(bytes(contents))
    with caplog.at_level(logging.WARNING, logger="ganprint.storage"):
        assert load_resume_state(tmp_path / "truncated.resume.pt", "settings-a") is None
        assert load_resume_state(tmp_path / "corrupted.resume.pt", "settings-a") is None
    assert "starting afresh: " in caplog.text and "truncated.resume.pt is not a readable resume state" in caplog.text
    assert "corrupted.resume.pt is corrupted" in caplog.text


def test_no_state_is_a_fresh_start_without_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="ganprint.storage"):
        assert load_resume_state(tmp_path / "missing.resume.pt", "settings-a") is None
    assert caplog.text == ""
