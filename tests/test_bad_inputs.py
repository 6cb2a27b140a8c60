"""Bad inputs a user has: each gives a correct result or one named error, and leaves nothing
half-written."""

import dataclasses
import errno
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganprint import GanprintError
from ganprint.cli import main
from ganprint.data.images import decode_image, list_images
from ganprint.data.real import prepare_real
from ganprint.storage import load_checkpoint, load_images, save_checkpoint, save_json


def not_flat(height, width, value):
    """`value` with its top-left pixel one level off: flat images are refused."""
    pixels = np.full((height, width, 3), value, np.uint8)
    pixels[0, 0] = value + 1
    return pixels


def test_a_16_bit_png_is_scaled_by_its_range_not_clipped(tmp_path):
    grey = np.full((8, 8), 33000, np.uint16)
    grey[:, 4:] = 65535
    Image.fromarray(grey).save(tmp_path / "grey16.png")
    decoded = decode_image(str(tmp_path / "grey16.png"), "grey16.png")
    assert decoded.converted_from == "I;16"
    assert np.all(decoded.pixels[:, :4] == 128) and np.all(decoded.pixels[:, 4:] == 255)  # 33000 / 257


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((8, 16, 3), np.uint8)
    stored[:, :8] = (255, 0, 0)  # left half red, right half blue
    stored[:, 8:] = (0, 0, 255)
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: the stored left half on top
    image.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    pixels = decode_image(str(tmp_path / "rotated.jpg"), "rotated.jpg").pixels
    assert pixels.shape == (16, 8, 3)
    assert pixels[2, 4, 0] > 200 and pixels[13, 4, 2] > 200


def test_transparency_is_composited_on_white_and_float_images_refused(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:2, :, 3] = 255  # top half opaque red, bottom half transparent (red underneath)
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    pixels = decode_image(str(tmp_path / "alpha.png"), "alpha.png").pixels
    assert pixels[0, 0].tolist() == [200, 0, 0] and pixels[3, 0].tolist() == [255, 255, 255]
    Image.fromarray(np.ones((4, 4), np.float32)).save(tmp_path / "float.tif")
    with pytest.raises(GanprintError, match="float.tif has floating-point pixels"):
        decode_image(str(tmp_path / "float.tif"), "float.tif")


def wallpaper(path, rgb=255):
    """An RGBA image that keeps its picture in the alpha channel over flat RGB."""
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., :3] = rgb
    rgba[..., 3] = np.arange(256).reshape(16, 16)
    Image.fromarray(rgba).save(path)


def test_an_image_of_one_colour_is_refused_by_name_and_alpha_can_go_on_black(tmp_path):
    Image.fromarray(np.full((6, 6, 3), 77, np.uint8)).save(tmp_path / "flat.png")
    with pytest.raises(GanprintError, match=r"image flat.png decodes to one flat colour, RGB \(77, 77, 77\)$"):
        decode_image(str(tmp_path / "flat.png"), "flat.png")
    wallpaper(tmp_path / "silk.png")
    with pytest.raises(GanprintError, match="silk.png decodes to one flat colour.*alpha channel.*on white"):
        decode_image(str(tmp_path / "silk.png"), "silk.png")
    on_black = decode_image(str(tmp_path / "silk.png"), "silk.png", background="black").pixels
    assert on_black[..., 0].reshape(-1).tolist() == list(range(256)) and (on_black[..., 0] == on_black[..., 2]).all()


def test_a_folder_with_a_flat_image_fails_or_skips_it_by_name(tmp_path, caplog):
    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(not_flat(8, 8, 50 * index)).save(folder / f"{index}.png")
    wallpaper(folder / "1a_wallpaper.png")
    Image.fromarray(np.full((8, 8, 3), 9, np.uint8)).save(folder / "1b_blank.png")
    with pytest.raises(GanprintError, match="1a_wallpaper.png decodes to one flat colour"):
        prepare_real("folder", tmp_path / "out.npy", 8, 3, path=str(folder))
    assert not list(tmp_path.glob("*out.npy*"))
    prepare_real("folder", tmp_path / "out.npy", 8, 3, path=str(folder), on_bad_image="skip")
    assert [int(image.mean()) for image in np.load(tmp_path / "out.npy")] == [0, 50, 100]
    assert "skipped 2 images that decode to one flat colour, e.g. " in caplog.text
    assert "1a_wallpaper.png" in caplog.text and "1b_blank.png" in caplog.text
    prepare_real("folder", tmp_path / "black.npy", 8, 3, path=str(folder), on_bad_image="skip", alpha_background="black")
    black = np.load(tmp_path / "black.npy")
    assert int(black[1].mean()) == 50 and black[2].std() > 20  # the wallpaper's alpha, on black
    assert "converted 1 RGBA-mode images to RGB (composited on black)" in caplog.text


def bomb_png(path, side=20000):
    """A small PNG whose header claims side x side pixels (its CRC fixed)."""
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(path)
    data = bytearray(path.read_bytes())
    header = b"IHDR" + struct.pack(">II", side, side) + bytes(data[24:29])
    data[12:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(header))
    path.write_bytes(bytes(data))


def test_a_decompression_bomb_is_named(tmp_path):
    bomb_png(tmp_path / "bomb.png")
    with pytest.raises(GanprintError, match="cannot read image .*bomb.png: too large to decode safely"):
        decode_image(str(tmp_path / "bomb.png"), str(tmp_path / "bomb.png"))


def test_hidden_and_appledouble_files_are_not_images(tmp_path):
    for name in ("a.png", "._a.png", ".hidden.png", ".thumbs/b.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / name)
    assert [p.name for p in list_images(tmp_path)] == ["a.png"]


def test_a_bad_file_in_a_folder_fails_or_is_skipped(tmp_path, caplog):
    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(4):
        Image.fromarray(not_flat(8, 8, 40 * index)).save(folder / f"{index}.png")
    (folder / "1.png").write_bytes(b"not a png")
    with pytest.raises(GanprintError, match="cannot read image .*1.png"):
        prepare_real("folder", tmp_path / "out.npy", 8, 3, path=str(folder))
    assert not list(tmp_path.glob("*out.npy*"))
    prepare_real("folder", tmp_path / "out.npy", 8, 3, path=str(folder), on_bad_image="skip")
    assert [int(image.mean()) for image in np.load(tmp_path / "out.npy")] == [0, 80, 120]
    assert "skipped 1 unreadable images, e.g. " in caplog.text and "1.png" in caplog.text
    with pytest.raises(GanprintError, match="only 3 of the 4 requested images are readable"):
        prepare_real("folder", tmp_path / "four.npy", 8, 4, path=str(folder), on_bad_image="skip")
    assert not list(tmp_path.glob("*four.npy*"))


def test_attribute_skips_a_bad_file_and_names_it(tmp_path, caplog):
    from test_attribution import make_sources, train

    from ganprint.attribution.inference import attribute

    paths = make_sources(tmp_path, 64)
    train(paths, tmp_path / "model.pt")
    folder = tmp_path / "new"
    folder.mkdir()
    for index, image in enumerate(np.load(paths["test"][0])[:3]):
        Image.fromarray(image).save(folder / f"{index}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG broken")
    Image.fromarray(not_flat(4, 6, 90)[..., 0]).save(folder / "small_grey.png")  # enlarged to 8x8, in RGB
    table = attribute(str(tmp_path / "model.pt"), [str(folder)], threshold=0.5)
    assert len(table) == 4 and "broken.png" in caplog.text and "skipped 1 of 5 images" in caplog.text
    assert "enlarged 1 images smaller than 8x8" in caplog.text
    with pytest.raises(GanprintError, match="broken.png"):
        attribute(str(tmp_path / "model.pt"), [str(folder)], threshold=0.5, on_bad_image="fail")
    only_bad = tmp_path / "only_bad"
    only_bad.mkdir()
    (only_bad / "broken.jpg").write_bytes(b"not a jpeg")
    assert main(["attribute", "--model", str(tmp_path / "model.pt"), "--threshold", "0.5", str(only_bad)]) == 1
    assert main(["attribute", "--model", str(tmp_path / "model.pt"), "--threshold", "0.5", "--format", "jsonl",
                 "--output", str(tmp_path / "out.jsonl"), str(folder)]) == 0
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 4


@pytest.mark.parametrize("damage, message", [
    ("flipped", "is corrupted: its contents do not match"),
    ("truncated", "is not a readable ganprint checkpoint"),
    ("text", "is not a readable ganprint checkpoint"),
    ("empty", "is not a readable ganprint checkpoint"),
    ("tensor", "is not a ganprint checkpoint: it holds a Tensor"),
])
def test_damaged_checkpoints_are_named_errors(tmp_path, damage, message):
    path = tmp_path / "model.pt"
    save_checkpoint(path, {"model": {"weight": torch.randn(200, 200)}, "settings": {"resolution": 8}})
    data = bytearray(path.read_bytes())
    if damage == "flipped":  # 200 bytes inside the weights, same size
        start = data.find(struct.pack("<f", load_checkpoint(path)["model"]["weight"][100, 0].item()))
        data[start : start + 200] = bytes(b ^ 0x5A for b in data[start : start + 200])
    replacements = {"flipped": bytes(data), "truncated": bytes(data[: len(data) // 2]), "text": b"hello", "empty": b""}
    if damage == "tensor":
        torch.save(torch.zeros(3), path)
    else:
        path.write_bytes(replacements[damage])
    with pytest.raises(GanprintError, match=f"model.pt {message}"):
        load_checkpoint(path)


def test_a_checkpoint_of_another_kind_is_named(tmp_path):
    from ganprint.attribution.evaluation import load_model
    from ganprint.gans.sampling import load_generator

    save_checkpoint(tmp_path / "generator.pt", {"arch": "progan", "settings": {}, "generator": {}})
    with pytest.raises(GanprintError, match="generator.pt is not a ganprint attribution model: it lacks"):
        load_model(tmp_path / "generator.pt", "cpu")
    save_checkpoint(tmp_path / "model.pt", {"settings": {}, "model": {}, "sources": []})
    with pytest.raises(GanprintError, match="model.pt is not a ganprint generator: it lacks"):
        load_generator(tmp_path / "model.pt", "cpu")


def test_temporaries_of_killed_processes_of_this_host_are_removed_and_other_hosts_kept(tmp_path):
    from ganprint.storage import HOST

    gone = subprocess.Popen(["true"])  # a process that is gone
    gone.wait()
    stale = tmp_path / f".metrics.json.tmp{HOST}.{gone.pid}"
    alive = tmp_path / f".metrics.json.tmp{HOST}.{os.getppid()}"  # another job still writing
    elsewhere = tmp_path / f".metrics.json.tmpnode-17.{gone.pid}"  # a job on another node, whose pid means nothing here
    for temporary in (stale, alive, elsewhere):
        temporary.write_text("half")
    save_json(tmp_path / "metrics.json", {"a": 1})
    assert not stale.exists() and alive.exists() and elsewhere.exists() and (tmp_path / "metrics.json").exists()


def test_an_output_and_its_folder_reach_the_disk_before_the_rename(tmp_path, monkeypatch):
    """After a power loss a renamed file must not be empty: the file is flushed before the
    rename, and the folder that holds the new name after it."""
    from ganprint import storage

    events = []
    monkeypatch.setattr(storage, "_fsync", lambda path: events.append(("fsync", Path(path))))
    replace = os.replace
    monkeypatch.setattr(storage.os, "replace", lambda a, b: (events.append(("rename", Path(b))), replace(a, b)))
    save_json(tmp_path / "metrics.json", {"a": 1})
    assert [kind for kind, _ in events] == ["fsync", "rename", "fsync"]
    assert events[0][1].name.startswith(".metrics.json.tmp") and events[2][1] == tmp_path


def test_a_terminated_job_leaves_no_temporary(tmp_path):
    script = (
        "import os, signal, time\n"
        "from ganprint.cli import _exit_on_sigterm\n"
        "from ganprint.storage import atomic_path\n"
        "signal.signal(signal.SIGTERM, _exit_on_sigterm)\n"
        f"with atomic_path({str(tmp_path / 'out.npy')!r}) as temporary:\n"
        "    temporary.write_bytes(b'half')\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(30)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], timeout=60)
    assert result.returncode == 143
    assert not list(tmp_path.iterdir())


def test_image_arrays_carry_a_digest_that_catches_flipped_bytes(tmp_path):
    from ganprint.storage import image_array_writer, load_array, load_images, save_array

    with image_array_writer(tmp_path / "images.npy", 4, 8) as array:
        array[:] = np.arange(4 * 8 * 8 * 3).reshape(4, 8, 8, 3) % 251
    expected = np.load(tmp_path / "images.npy")  # numpy reads the array and ignores the digest after it
    assert np.array_equal(load_images(tmp_path / "images.npy"), expected)
    data = bytearray((tmp_path / "images.npy").read_bytes())
    data[300:340] = bytes(b ^ 0xFF for b in data[300:340])
    (tmp_path / "flipped.npy").write_bytes(bytes(data))
    with pytest.raises(GanprintError, match="flipped.npy is corrupted"):
        load_images(tmp_path / "flipped.npy")
    save_array(tmp_path / "rows.npy", np.arange(10))
    assert load_array(tmp_path / "rows.npy").tolist() == list(range(10))
    np.save(tmp_path / "plain.npy", expected)  # written by another tool: no digest, still read
    assert np.array_equal(load_images(tmp_path / "plain.npy"), expected)


class CallsSystem:
    def __reduce__(self):
        return os.system, ("echo this ran",)


def test_a_model_file_that_would_run_code_is_refused_naming_the_call(tmp_path, capfd):
    path = tmp_path / "model.pt"
    torch.save({"model": CallsSystem(), "settings": {}, "sources": ["a"]}, path)
    with pytest.raises(GanprintError) as error:
        load_checkpoint(path)
    message = str(error.value)
    assert message.startswith(f"{path} holds code, not only weights: loading it would call ")
    assert "system" in message and "weights_only=False, which would run it" in message
    assert "this ran" not in capfd.readouterr().out


def test_checkpoints_are_not_loaded_with_a_torch_that_weights_only_loading_cannot_be_trusted_in(tmp_path, monkeypatch):
    save_checkpoint(tmp_path / "model.pt", {"model": {}})
    monkeypatch.setattr(torch, "__version__", "2.5.1+cu121")
    with pytest.raises(GanprintError, match=r"torch 2.5.1\+cu121 has known ways around weights-only loading"):
        load_checkpoint(tmp_path / "model.pt")
    monkeypatch.setattr(torch, "__version__", "2.10.0")
    assert load_checkpoint(tmp_path / "model.pt") == {"model": {}}


def test_a_full_disk_is_one_named_error_no_temporary_and_the_earlier_output_intact(tmpfs):
    from ganprint.storage import image_array_writer

    small_disk = tmpfs("disk", "1m")

    earlier = small_disk / "images.npy"
    with image_array_writer(earlier, 4, 8) as array:
        array[:] = 7
    with pytest.raises(GanprintError, match=rf"no space to write {earlier}: it needs 2.0 MB, and 1.0 MB are free in {small_disk}"):
        with image_array_writer(earlier, 40, 128) as array:  # 1.97 MB
            array[:] = 1
    assert sorted(path.name for path in small_disk.iterdir()) == ["images.npy"]
    assert (load_images(earlier) == 7).all()
    with pytest.raises(GanprintError, match=f"no space left to write {small_disk / 'model.pt'}"):
        save_checkpoint(small_disk / "model.pt", {"model": {"weight": torch.zeros(600, 600)}})
    with pytest.raises(GanprintError, match=f"no space left to write {small_disk / 'table.json'}"):
        save_json(small_disk / "table.json", {"rows": ["x" * 100] * 20000})
    assert sorted(path.name for path in small_disk.iterdir()) == ["images.npy"]


def test_an_image_array_reserves_its_space_before_it_is_mapped(tmp_path, monkeypatch):
    """Where no small file system can be mounted: posix_fallocate failing as on a full disk."""
    from ganprint.storage import image_array_writer

    def no_space(descriptor, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", no_space)
    with pytest.raises(GanprintError, match=f"no space to write {tmp_path / 'images.npy'}: it needs 6.1 MB, and .+ are free"):
        with image_array_writer(tmp_path / "images.npy", 5, 640):
            pytest.fail("the array was handed out before its space was reserved")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("change, message", [
    (lambda c: c["settings"].update(surprise=1), r"unknown network settings \['surprise'\]"),
    (lambda c: c.update(settings=[8, 2]), "its settings are a list, not a mapping"),
    (lambda c: c["settings"].update(resolution=1 << 20), "resolution 1048576 is not one of"),
    (lambda c: c["settings"].update(fmap_base=10**12), r"fmap_base 1000000000000 is not a whole number in \[1, 65536\]"),
    (lambda c: c.update(sources=["a", "b"]), r"its sources \['a', 'b'\] are not 3 names, one per output"),
    (lambda c: c["model"].update({name: value[:1] for name, value in c["model"].items() if value.ndim == 2}),
     "its weights do not fit the network its settings describe"),
])
def test_a_model_file_that_passes_weights_only_but_cannot_describe_its_network_is_named(tmp_path, change, message):
    from ganprint.attribution.evaluation import load_model
    from ganprint.attribution.network import AttributionNetwork, AttributionSettings

    settings = AttributionSettings(resolution=8, n_classes=3, fmap_base=8, fmap_max=8)
    checkpoint = {"settings": dataclasses.asdict(settings), "sources": ["a", "b", "c"],
                  "model": AttributionNetwork(settings).state_dict()}
    save_checkpoint(tmp_path / "model.pt", checkpoint)
    assert load_model(tmp_path / "model.pt", "cpu").sources == ["a", "b", "c"]
    change(checkpoint)
    save_checkpoint(tmp_path / "model.pt", checkpoint)
    with pytest.raises(GanprintError, match=f"{tmp_path / 'model.pt'}: {message}"):
        load_model(tmp_path / "model.pt", "cpu")


def noise_image(size=16, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


@pytest.mark.parametrize("kind", ["gif", "webp", "tiff"])
def test_an_animation_or_a_multi_page_file_is_refused_by_name(tmp_path, kind):
    frames = [noise_image(seed=seed) for seed in range(3)]
    path = tmp_path / f"moving.{kind}"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with pytest.raises(GanprintError, match=f"image {path} holds 3 frames"):
        decode_image(str(path), str(path))
    frames[0].save(tmp_path / f"still.{kind}")
    assert decode_image(str(tmp_path / f"still.{kind}"), "still").pixels.shape == (16, 16, 3)


def test_a_cameras_multi_picture_jpeg_is_read_as_its_photograph(tmp_path):
    photograph, preview = noise_image(seed=1), noise_image(seed=2)
    photograph.save(tmp_path / "phone.jpg", format="MPO", save_all=True, append_images=[preview])
    with Image.open(tmp_path / "phone.jpg") as image:
        assert (image.format, image.n_frames) == ("MPO", 2)
        expected = np.asarray(image.convert("RGB"))
    assert (decode_image(str(tmp_path / "phone.jpg"), "phone").pixels == expected).all()


def test_32_bit_grey_is_read_within_16_bits_and_refused_beyond(tmp_path):
    ramp = np.arange(256, dtype=np.int32).reshape(16, 16) * 257
    Image.fromarray(ramp).save(tmp_path / "within.tif")
    pixels = decode_image(str(tmp_path / "within.tif"), "within").pixels
    assert (pixels[..., 0] == np.arange(256).reshape(16, 16)).all()
    Image.fromarray(ramp * 1000).save(tmp_path / "beyond.tif")
    with pytest.raises(GanprintError, match="beyond.tif has 32-bit pixels from 0 to 65535000, outside the 16-bit range"):
        decode_image(str(tmp_path / "beyond.tif"), str(tmp_path / "beyond.tif"))


def test_folders_read_every_image_format_name_the_files_they_leave_and_follow_linked_folders(tmp_path, caplog):
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    noise_image().save(folder / "a.jfif", format="JPEG")
    noise_image().save(folder / "b.gif")
    (folder / "c.heic").write_bytes(b"not read")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    noise_image().save(elsewhere / "d.png")
    (folder / "sub" / "linked").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "loop").symlink_to(folder, target_is_directory=True)  # a link back up: read once
    with caplog.at_level("WARNING"):
        found = list_images(folder)
    assert [path.name for path in found] == ["a.jfif", "b.gif", "d.png"]
    assert f"{folder}: 1 files are not read" in caplog.text and "c.heic" in caplog.text


def test_an_image_near_the_decompression_limit_is_named_in_its_warning(tmp_path, monkeypatch, caplog):
    noise_image(64).save(tmp_path / "large.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)  # 4,096 pixels: past the warning, short of the refusal
    with caplog.at_level("WARNING"):
        decode_image(str(tmp_path / "large.png"), str(tmp_path / "large.png"))
    assert f"image {tmp_path / 'large.png'} has 4096 pixels, more than Pillow's limit of 3000" in caplog.text


def test_any_write_that_runs_out_of_space_is_one_named_error_and_leaves_nothing(tmp_path, monkeypatch):
    """Where no small file system can be mounted: a write failing as on a full disk."""
    save_json(tmp_path / "metrics.json", {"a": 1})

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(json, "dumps", full)
    with pytest.raises(GanprintError, match=f"no space left to write {tmp_path / 'metrics.json'}: .* free in {tmp_path}"):
        save_json(tmp_path / "metrics.json", {"a": 2})
    assert [path.name for path in tmp_path.iterdir()] == ["metrics.json"]
    assert (tmp_path / "metrics.json").read_text().startswith('{\n  "a": 1')
