"""Deliberate breakages of the package that the tests must catch: each is one small edit of
one file (`old` replaced by `new`, found exactly once), and the tests named with it must fail
while it is in place. The breakages are made in a copy of the checkout (its package first on
PYTHONPATH), so the checkout itself, and any run using it meanwhile, never sees them.

    python tests/breakages.py                 # every breakage; writes tests/breakages.md
    python tests/breakages.py --only pin      # those whose name contains "pin"

A breakage whose tests still pass is a hole in the suite: the run exits non-zero naming it.
"""

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPORT = Path(__file__).with_name("breakages.md")


@dataclasses.dataclass(frozen=True)
class Breakage:
    name: str
    file: str  # relative to the checkout
    old: str
    new: str
    tests: tuple[str, ...]  # pytest's arguments: test files or node ids (relative to the checkout), -k ...


BREAKAGES = [
    Breakage("pinning sets no variable", "workflow/ganprint/cpu_kernels.py",
             "    os.environ.update(chosen)\n", "",
             ("tests/test_cpu_kernels.py",)),
    Breakage("a flat image is accepted", "workflow/ganprint/data/images.py",
             "    if (pixels == pixels[0, 0]).all():", "    if False:",
             ("tests/test_bad_inputs.py::test_an_image_of_one_colour_is_refused_by_name_and_alpha_can_go_on_black",
              "tests/test_bad_inputs.py::test_a_folder_with_a_flat_image_fails_or_skips_it_by_name")),
    Breakage("alpha always composited on white", "workflow/ganprint/data/images.py",
             "ALPHA_BACKGROUNDS[background])", "ALPHA_BACKGROUNDS['white'])",
             ("tests/test_bad_inputs.py::test_an_image_of_one_colour_is_refused_by_name_and_alpha_can_go_on_black",)),
    Breakage('MMD cross term halved', 'workflow/ganprint/gans/losses.py',
             'return within_x + within_y - 2 * k_xy.mean()',
             'return within_x + within_y - k_xy.mean()',
             ('tests/test_resnet_gans.py::test_mmd_generator_loss_equals_the_pairwise_sums',)),
    Breakage("rational-quadratic kernel's scale", 'workflow/ganprint/gans/losses.py',
             '(1 + squared / (2 * a)).pow(-a)',
             '(1 + squared / a).pow(-a)',
             ('tests/test_resnet_gans.py::test_mmd_generator_loss_equals_the_pairwise_sums',)),
    Breakage('PRNU wavelet db2', 'workflow/ganprint/baselines/prnu.py',
             'WAVELET = "db4"',
             'WAVELET = "db2"',
             ('tests/test_baselines.py::test_wavelet_noise_is_the_ports_denoiser_with_a_periodic_transform',)),
    Breakage('PRNU saturation level', 'workflow/ganprint/baselines/prnu.py',
             'SATURATED = 250',
             'SATURATED = 251',
             ('tests/test_baselines.py::test_intensity_weights_are_the_toolbox_scale_and_saturation_mask_pixel_by_pixel',)),
    Breakage("DFT Wiener filter's standard deviation biased", 'workflow/ganprint/baselines/prnu.py',
             'flatten(-2).std(dim=-1, correction=1)',
             'flatten(-2).std(dim=-1, correction=0)',
             ('tests/test_baselines.py::test_wiener_dft_is_the_toolbox_formula',)),
    Breakage('PRNU residual without zero mean', 'workflow/ganprint/baselines/prnu.py',
             'return patterns - patterns.mean(dim=-2, keepdim=True)',
             'return patterns',
             ('tests/test_baselines.py::test_residuals_are_the_ports_extract_single',)),
    Breakage('PRNU fingerprint denominator', 'workflow/ganprint/baselines/prnu.py',
             'else numerator / (denominator + 1.0)',
             'else numerator / (denominator + 2.0)',
             ('tests/test_baselines.py::test_fingerprints_are_the_ports_intensity_weighted_estimate_with_saturated_pixels_left_out',)),
    Breakage("PRNU's average estimator weights by intensity", 'workflow/ganprint/baselines/prnu.py',
             'return noise if estimator == "average" else weighted_noise(noise, images)',
             'return weighted_noise(noise, images)',
             ('tests/test_baselines.py::test_average_fingerprints_are_the_mean_residual_of_each_source',)),
    Breakage('MMD^2 drops the whole diagonal', 'workflow/ganprint/gans/losses.py',
             'within_x = (k_xx.sum() - m * diagonal) / (m * (m - 1))',
             'within_x = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))',
             ('tests/test_resnet_gans.py::test_mmd_generator_loss_equals_the_pairwise_sums',)),
    Breakage('SNGAN critic blocks in -> out -> out', 'workflow/ganprint/gans/resnet.py',
             'hidden = out_channels if first else in_channels',
             'hidden = out_channels',
             ('tests/test_resnet_gans.py::test_sngan_layout_follows_its_code_at_128',)),
    Breakage('stretch rounds half to even', 'workflow/ganprint/convert.py',
             '.clamp_(0, 255).add_(0.5).floor_()',
             '.clamp_(0, 255).round_()',
             ('tests/test_sampling.py::test_each_export_writes_the_bytes_of_the_authors_tools[stretch]',)),
    Breakage('truncate rounds', 'workflow/ganprint/convert.py',
             'levels.floor_() if export == "truncate" else levels.round_()',
             'levels.round_()',
             ('tests/test_sampling.py::test_each_export_writes_the_bytes_of_the_authors_tools[truncate]',)),
    Breakage("SNGAN's dequantised reals over 127.5", 'workflow/ganprint/gans/training.py',
             '.float() / 128 - 1',
             '.float() / 127.5 - 1',
             ('tests/test_resnet_gans.py::test_dequantised_reals_are_the_sngan_loaders_x_over_128_minus_1_plus_uniform_noise',)),
    Breakage('ProGAN critic activates before pooling', 'workflow/ganprint/gans/progan.py',
             '            x = leaky_relu(conv(x))\n        return x\n',
             '            x = leaky_relu(conv(x))\n        return downsample2x(x)\n',
             ('tests/test_progan.py::test_each_critic_block_pools_before_its_last_activation_as_the_authors_fused_scale',)),
    Breakage('ProGAN Adam restarts per resolution only', 'workflow/ganprint/gans/progan.py',
             'phase = self.settings.phase(images_shown)',
             'phase = resolution',
             ('tests/test_progan.py::test_adam_restarts_at_every_fade_in_and_every_stable_phase_as_the_authors_run',)),
    Breakage('PRNU levels past the image', 'workflow/ganprint/baselines/prnu.py',
             'return max(1, min(levels, longest))',
             'return max(1, levels)',
             ('tests/test_baselines.py::test_below_128_pixels_the_levels_stop_where_pywavelets_runs_out_of_inner_coefficients',)),
    Breakage('minibatch stddev groups consecutive', 'workflow/ganprint/layers.py',
             'grouped = x.reshape(group, -1, channels, height, width)',
             'grouped = x.reshape(-1, group, channels, height, width).transpose(0, 1)',
             ('tests/test_layers.py::test_minibatch_stddev_is_the_authors_grouped_deviation',)),
    Breakage('pixel norm sums', 'workflow/ganprint/layers.py',
             'return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + epsilon)',
             'return x * torch.rsqrt(x.pow(2).sum(dim=1, keepdim=True) + epsilon)',
             ('tests/test_layers.py::test_pixel_norm_scales_each_pixels_features_to_unit_mean_square',)),
    Breakage('equalised conv fan-in', 'workflow/ganprint/layers.py',
             'self.scale = equalised_scale(in_channels * kernel_size * kernel_size, gain)',
             'self.scale = equalised_scale(in_channels * kernel_size, gain)',
             ('tests/test_layers.py::test_equalised_conv_draws_unit_normal_weights_and_scales_them_at_run_time',)),
    Breakage('equalised dense scale', 'workflow/ganprint/layers.py',
             'self.scale = equalised_scale(in_features, gain)',
             'self.scale = gain / in_features',
             ('tests/test_layers.py::test_equalised_dense_layer_scales_by_gain_over_root_fan_in',)),
    Breakage('upsample2x transposes', 'workflow/ganprint/layers.py',
             'wide = x[:, :, :, None, :, None].expand(batch, channels, height, 2, width, 2)',
             'wide = x[:, :, None, :, None, :].expand(batch, channels, 2, height, 2, width)',
             ('tests/test_layers.py::test_upsample2x_repeats_each_pixel_and_its_backward_sums_each_block[False]',)),
    Breakage('ProGAN saves the raw generator', 'workflow/ganprint/gans/progan.py',
             '        return self.generator_ema',
             '        return self.generator',
             ('tests/test_progan.py::test_the_saved_generator_is_the_moving_average_of_the_trained_one',)),
    Breakage('ProGAN EMA weight swapped', 'workflow/ganprint/gans/progan.py',
             'averaged.lerp_(current, 1.0 - beta)',
             'averaged.lerp_(current, beta)',
             ('tests/test_progan.py::test_the_saved_generator_is_the_moving_average_of_the_trained_one',)),
    Breakage('drift term absolute', 'workflow/ganprint/gans/losses.py',
             'drift = real_scores.pow(2).mean()',
             'drift = real_scores.abs().mean()',
             ('tests/test_progan.py::test_critic_loss_is_wgan_gp_plus_drift_as_in_the_authors_code',)),
    Breakage('gradient penalty interpolates backwards', 'workflow/ganprint/gans/losses.py',
             'mixed = torch.lerp(real, fake, uniform.reshape(-1, 1, 1, 1))',
             'mixed = torch.lerp(fake, real, uniform.reshape(-1, 1, 1, 1))',
             ('tests/test_progan.py::test_critic_loss_is_wgan_gp_plus_drift_as_in_the_authors_code',)),
    Breakage('ProGAN widths halved', 'workflow/ganprint/layers.py',
             'return max(1, min(2 * fmap_base // resolution, fmap_max))',
             'return max(1, min(fmap_base // resolution, fmap_max))',
             ('tests/test_progan.py::test_the_128_pixel_networks_have_the_authors_layout',)),
    Breakage('ProGAN critic block widths', 'workflow/ganprint/gans/progan.py',
             'EqualConvDownscale2d(nf(res), nf(res // 2), 3)])',
             'EqualConvDownscale2d(nf(res), nf(res), 3)])',
             ('tests/test_progan.py::test_the_128_pixel_networks_have_the_authors_layout',)),
    Breakage('classifier flips vertically', 'workflow/ganprint/attribution/training.py',
             'images.flip(3), images)',
             'images.flip(2), images)',
             ('tests/test_attribution.py::test_random_flips_mirror_about_half_the_images_left_to_right_one_draw_per_image',)),
    Breakage('classifier flips when flips are off', 'workflow/ganprint/attribution/training.py',
             '        if optimiser.flip:',
             '        if not optimiser.flip:',
             ('tests/test_attribution.py::test_training_flips_each_image_left_right_with_probability_one_half',)),
    Breakage('combination attack order', 'workflow/ganprint/attacks.py',
             'COMBINATION_ORDER = ("relight", "crop", "blur", "jpeg", "noise")',
             'COMBINATION_ORDER = ("relight", "blur", "crop", "jpeg", "noise")',
             ('tests/test_attacks.py::test_combination_applies_each_perturbation_with_probability_one_half_in_the_papers_order',)),
    Breakage('combination ignores its probability', 'workflow/ganprint/attacks.py',
             '[stream.uniform() < settings.probability for stream in streams]',
             '[stream.uniform() < 0.5 for stream in streams]',
             ('tests/test_attacks.py::test_combination_follows_the_configured_probability',)),
    Breakage('Inception input range', 'workflow/ganprint/baselines/inception.py',
             'batch = 2.0 * batch - 1.0',
             'batch = 1.0 * batch - 0.0',
             ('tests/test_inception.py::test_cached_weights_give_pytorch_fids_features_to_the_fd_ratio',)),
    Breakage('Inception weights never found', 'workflow/ganprint/baselines/inception.py',
             'return cached if cached.is_file() else None',
             'return None',
             ('tests/test_inception.py::test_cached_weights_give_pytorch_fids_features_to_the_fd_ratio',)),
    Breakage('classifier resume reads no state', 'workflow/ganprint/attribution/training.py',
             'state = load_resume_state(state_path, fingerprint)',
             'state = None',
             ('tests/test_attribution.py', 'tests/test_visnet.py', '-k', 'resume')),
    Breakage('GAN resume reads no state', 'workflow/ganprint/gans/training.py',
             '    state = load_resume_state(state_path, fingerprint)\n    if state is None:',
             '    state = None\n    if state is None:',
             ('tests/test_gan_training.py', 'tests/test_training_length.py', '-k', 'resume')),
    Breakage("resume ignores other settings' fingerprint", 'workflow/ganprint/storage.py',
             'if state.get("fingerprint") != fingerprint:',
             'if False:',
             ('tests/test_resume_state.py',)),
    Breakage('a corrupted resume state is an error', 'workflow/ganprint/storage.py',
             '        log.warning("starting afresh: %s", error)\n        return None',
             '        raise',
             ('tests/test_resume_state.py',)),
    Breakage('config errors name no key', 'workflow/ganprint/config_checks.py',
             'where = ".".join(map(str, errors[0].path)) or "(top level)"',
             'where = "(top level)"',
             ('tests/test_config.py', '-k', 'config_checks or snakemake_stops')),
    Breakage('a rule file that does not parse', 'workflow/rules/report.smk',
             'rule experiment_table:',
             'rule experiment_table:::',
             ('tests/test_config.py', '-k', 'lint')),
    Breakage('CLI errors as tracebacks', 'workflow/ganprint/cli.py',
             '    except GanprintError as error:\n        print(f"ganprint {stage}: error: {error}", file=sys.stderr)',
             '    except KeyError as error:\n        print(f"ganprint {stage}: error: {error}", file=sys.stderr)',
             ('tests/test_cli.py', '-k', 'malformed')),
    Breakage('real-subset ignores its seed', 'workflow/ganprint/cli.py',
             'subset_diff(len(load_images(images)), base_size, difference, seed)',
             'subset_diff(len(load_images(images)), base_size, difference, 0)',
             ('tests/test_cli_stages.py', '-k', 'real_subset')),
    Breakage('select-artifact-free ignores its fraction', 'workflow/ganprint/cli.py',
             'run(real, test, selection, output, block["fraction"],',
             'run(real, test, selection, output, 0.5,',
             ('tests/test_cli_stages.py', '-k', 'select_artifact')),
    Breakage('attack ignores its streams', 'workflow/ganprint/cli.py',
             'streams = list(streams) or [str(i) for i in range(len(images))]',
             'streams = [str(i) for i in range(len(images))]',
             ('tests/test_cli_stages.py', '-k', 'attack_draws')),
    Breakage('open-set table marks every score default', 'workflow/ganprint/tables.py',
             '"default_score": score == entry["score"]',
             '"default_score": True',
             ('tests/test_cli_stages.py', '-k', 'open_set')),
    Breakage('length-table ignores images per run', 'workflow/ganprint/cli.py',
             'write_length_table(metrics, output, images_per_run)',
             'write_length_table(metrics, output, None)',
             ('tests/test_cli_stages.py', '-k', 'length')),
    Breakage('figures blank', 'workflow/ganprint/figures.py',
             '    figure.tight_layout()',
             '    figure.clf()',
             ('tests/test_cli_stages.py', 'tests/test_figures.py', 'tests/test_components.py', '-k', 'figure or map or grid')),
    Breakage('visualise prints no table', 'workflow/ganprint/cli.py',
             '    if not table:\n        print(spreadsheet_safe_csv(result), end="")',
             '    if False:\n        print(spreadsheet_safe_csv(result), end="")',
             ('tests/test_cli_stages.py', '-k', 'visualise')),
    Breakage('component curves not drawn', 'workflow/ganprint/figures.py',
             '    axis.plot(rows[x_column][present], rows[column][present], style, color=colour, label=f"{dataset}: {label}")',
             '    pass',
             ('tests/test_cli_stages.py', 'tests/test_components.py', '-k', 'components or band_figure')),
    Breakage('CI passes without SLURM', '.ci/run',
             'elif [[ "${CI:-}" == "true" ]]; then',
             'elif false; then',
             ('tests/test_packaging.py', '-k', 'ci_without')),
    Breakage('Table 8 from the first data set', 'workflow/rules/common.smk',
             '    return list(config["datasets"])[ATTACK_TABLE_NUMBERS.index(number)]',
             '    return list(config["datasets"])[0]',
             ('tests/test_config.py', '-k', 'two_data_sets')),
    Breakage("docs: a README command's target misspelt", "README.md",
             "results/mine/open_set.csv --cores 2", "results/mine/openset.csv --cores 2",
             ("tests/test_docs.py", "-k", "snakemake and README")),
    Breakage("docs: an option of ganprint attribute misspelt", "docs/cli.md",
             "--output attributions.csv", "--outptu attributions.csv",
             ("tests/test_docs.py", "-k", "ganprint_commands")),
    Breakage('help lists the stages first', 'workflow/ganprint/cli.py',
             'command_list("user commands (on your own images):", USER_COMMANDS),\n'
             '                                command_list("workflow stages (the Snakemake rules run these):", STAGES)',
             'command_list("workflow stages (the Snakemake rules run these):", STAGES),\n'
             '                                command_list("user commands (on your own images):", USER_COMMANDS)',
             ('tests/test_cli.py', '-k', 'heading')),
    Breakage('an option without help', 'workflow/ganprint/cli.py',
             "    model: the attribution model (model.pt of the workflow's results/.../attribution/...)\n", '',
             ('tests/test_cli.py', '-k', 'every_option')),
    Breakage('absent options shown as default None', 'workflow/ganprint/cli.py',
             'if action.default is None or action.default is False', 'if action.default is False',
             ('tests/test_cli.py', '-k', 'every_option')),
    Breakage("shared help before a command's own", 'workflow/ganprint/cli.py',
             'described.parameters.get(parameter.name) or COMMON_HELP.get(parameter.name, "")',
             'COMMON_HELP.get(parameter.name) or described.parameters.get(parameter.name, "")',
             ('tests/test_cli.py', '-k', 'every_option or shared_option')),
    Breakage('user commands without examples', 'workflow/ganprint/cli.py',
             'EXAMPLES = "examples:\\n"', 'EXAMPLES = "Examples:\\n"',
             ('tests/test_cli.py', '-k', 'examples')),
    Breakage('a missing data folder passes the dry run', 'Snakefile',
             '    check_data_paths(config)\n', '',
             ('tests/test_config.py', '-k', 'without_its_images')),
    Breakage('config errors as tracebacks', 'Snakefile',
             'sys.exit(f"config error: {error}")', 'raise',
             ('tests/test_config.py', '-k', 'without_its_images')),
    Breakage("a folder source's later folders unchecked", 'workflow/ganprint/config_checks.py',
             'for path in [folder["path"]] if isinstance(folder["path"], str) else folder["path"]:',
             'for path in [folder["path"]] if isinstance(folder["path"], str) else folder["path"][:1]:',
             ('tests/test_config.py', '-k', 'folder_of_a_folder_source')),
    Breakage('the open-set page without a caption', 'workflow/report/table.rst',
             '{% elif table == "open_set" %}', '{% elif table == "open-set" %}',
             ('tests/test_config.py', '-k', 'caption')),
    Breakage('training-length axis 0-100', 'workflow/ganprint/figures.py',
             'axis.set_ylim(*accuracy_limits(rows["accuracy"], chance))', 'axis.set_ylim(0, 101)',
             ('tests/test_figures.py', '-k', 'training_length')),
    Breakage('coinciding training-length curves drawn alike', 'workflow/ganprint/figures.py',
             'marker, line_style = CURVE_STYLES[order % len(CURVE_STYLES)]', 'marker, line_style = CURVE_STYLES[0]',
             ('tests/test_figures.py', '-k', 'training_length')),
    Breakage("the SLURM profile's command without the results folder", 'workflow/profiles/slurm/config.yaml',
             'snakemake results/celeba/table3.csv', 'snakemake results/table3.csv',
             ('tests/test_config.py', '-k', 'slurm_profile')),
    Breakage("the report's pygments left to the test extras", 'pyproject.toml',
             '    "pygments>=2.10",\n', '',
             ('tests/test_packaging.py', '-k', 'report_needs')),
    Breakage('CI renders the report with the test environment', '.ci/run',
             'export GANPRINT_RUNTIME_PYTHON\n', '',
             ('tests/test_packaging.py', '-k', 'without_test_extras')),
    Breakage('the error type taken from the package root', 'workflow/ganprint/storage.py',
             'from .errors import GanprintError', 'from . import GanprintError',
             ('tests/test_packaging.py', '-k', 'bottom')),
    Breakage('a fixed label margin in sample figures', 'workflow/ganprint/figures.py',
             'left = pad + text_width_inches(labels, fontsize) + label_gap', 'left = pad + 1.0 + label_gap',
             ('tests/test_figures.py', '-k', 'fit_in_the_figure')),
    Breakage("Table 6's real class counted as a GAN's", 'workflow/ganprint/metrics.py',
             'return counts[0] if len(set(counts)) == 1 else " ".join(map(str, counts))', 'return min(counts)',
             ('tests/test_metrics.py', '-k', 'per_class')),
    Breakage('a schema description the configuration page lacks', 'workflow/ganprint/config.schema.yaml',
             'description: "Minibatch size."', 'description: "Minibatch size of the linear classifier."',
             ('tests/test_docs.py', '-k', 'key_tables')),
    Breakage("an output column the attribute help leaves out", 'workflow/ganprint/cli.py',
             'nearest_source (the source of highest probability', 'the source of highest probability (',
             ('tests/test_attribution.py', '-k', 'attribute_image_files')),
    Breakage("compare_results blind to Figure 7's correlations", 'benchmarks/compare_results.py',
             'tables = sorted(expected_folder.rglob("*.csv"))', 'tables = sorted(expected_folder.glob("*.csv"))',
             ('tests/test_benchmarks.py', '-k', 'compare_results')),
    Breakage('a templated config let through', 'Snakefile',
             '    check_untemplated(workflow.configfiles)\n', '',
             ('tests/test_config.py', '-k', 'templated')),
    Breakage('a torch floor with weights-only bypasses', 'pyproject.toml',
             '"torch>=2.10,<3"', '"torch>=2.3,<3"',
             ('tests/test_packaging.py', '-k', 'advisories')),
    Breakage('checkpoints loaded under any torch', 'workflow/ganprint/storage.py',
             '    check_torch_release(torch.__version__)\n', '',
             ('tests/test_bad_inputs.py', '-k', 'cannot_be_trusted')),
    Breakage('the call a model file would make left unnamed', 'workflow/ganprint/storage.py',
             '    if code:\n', '    if False:\n',
             ('tests/test_bad_inputs.py', '-k', 'run_code')),
    Breakage('image arrays mapped before their space is reserved', 'workflow/ganprint/storage.py',
             '        reserve(temporary, array.offset + array.nbytes, Path(path))\n', '',
             ('tests/test_bad_inputs.py', '-k', 'reserves')),
    Breakage('a full disk as a raw traceback', 'workflow/ganprint/storage.py',
             '        if disk_full(error, final.parent):', '        if False:',
             ('tests/test_bad_inputs.py', '-k', 'full_disk or runs_out_of_space')),
    Breakage("another host's temporaries removed", 'workflow/ganprint/storage.py',
             'if host in (HOST, "") and pid.isdigit()', 'if pid.isdigit()',
             ('tests/test_bad_inputs.py', '-k', 'temporaries')),
    Breakage('the folder not flushed after the rename', 'workflow/ganprint/storage.py',
             '        _fsync_folder(final.parent)\n', '',
             ('tests/test_bad_inputs.py', '-k', 'power_loss or reach_the_disk')),
    Breakage('a truncated LMDB read', 'workflow/ganprint/data/real.py',
             '    if size < needed:', '    if False:',
             ('tests/test_data.py', '-k', 'damaged')),
    Breakage("a crashing LMDB index walked in ganprint's own process", 'workflow/ganprint/data/real.py',
             '    if walk.returncode != 0:', '    if walk.returncode > 0:',
             ('tests/test_data.py', '-k', 'crashes')),
    Breakage('user commands delete the resume state beside a model', 'workflow/ganprint/attribution/evaluation.py',
             '    if retire_resume:\n', '    if True:\n',
             ('tests/test_attribution.py', '-k', 'read_only or resumable_state')),
    Breakage("a calibration of another model accepted", 'workflow/ganprint/attribution/open_set.py',
             '        if content.get("model_digest") != model_digest:', '        if False:',
             ('tests/test_attribution.py', '-k', 'another_model')),
    Breakage("a model file's unknown settings passed on", 'workflow/ganprint/attribution/evaluation.py',
             '    unknown = sorted(map(str, set(settings) - known))', '    unknown = []',
             ('tests/test_bad_inputs.py', '-k', 'describe_its_network')),
    Breakage('a formula cell written as it is', 'workflow/ganprint/storage.py',
             'if isinstance(cell, str) and cell.startswith(FORMULA_STARTS)', 'if False',
             ('tests/test_attribution.py', '-k', 'read_back')),
    Breakage('attributions written over the model', 'workflow/ganprint/cli.py',
             "    check_output_path(output, [model, calibration or beside_model, *files])\n", '',
             ('tests/test_attribution.py', '-k', 'output_that')),
    Breakage("an experiment named as a held-out one", 'workflow/ganprint/config_checks.py',
             '    check_experiment_names(config["experiments"])\n', '',
             ('tests/test_config.py', '-k', 'name_the_key')),
    Breakage("a snapshot source let into an experiment", 'workflow/ganprint/config_checks.py',
             '            if instance.snapshot is not None:', '            if False:',
             ('tests/test_config.py', '-k', 'name_the_key')),
    Breakage("a typo in an analysis' experiment builds nothing", 'workflow/ganprint/config_checks.py',
             '    check_analysis_experiments(config)\n', '',
             ('tests/test_config.py', '-k', 'name_the_key')),
    Breakage('an animation read as its first frame', 'workflow/ganprint/data/images.py',
             '            _refuse_frames(image, name)\n', '',
             ('tests/test_bad_inputs.py', '-k', 'animation')),
    Breakage('32-bit grey clipped to white', 'workflow/ganprint/data/images.py',
             '        if grey.min() < 0 or grey.max() > SIXTEEN_BITS:', '        if False:',
             ('tests/test_bad_inputs.py', '-k', '32_bit')),
    Breakage('linked folders not followed', 'workflow/ganprint/data/images.py',
             'os.walk(folder, followlinks=True)', 'os.walk(folder, followlinks=False)',
             ('tests/test_bad_inputs.py', '-k', 'every_image_format')),
    Breakage("native patches resized instead", "workflow/ganprint/data/real.py",
             "    if crop == NATIVE:\n        return (lambda pixels, name: native_window(pixels, window, align, name)), window",
             "    if crop == NATIVE:\n        return (lambda pixels, name: resize(native_window(pixels, window, align, name), size)), size",
             ("tests/test_native.py::test_native_patches_attribute_traces_that_resizing_erases",)),
    Breakage("training reads the centre patch every epoch", "workflow/ganprint/attribution/training.py",
             "    corners = data.random_corners(stream) if data.native else None",
             "    corners = None",
             ("tests/test_native.py::test_training_reads_each_image_at_a_new_patch_every_epoch",)),
    Breakage("patch corners off the image grid", "workflow/ganprint/attribution/data.py",
             "np.floor(draws * counts[self.labels, None]).astype(np.int64) * self.align",
             "np.floor(draws * counts[self.labels, None]).astype(np.int64) * self.align + 1",
             ("tests/test_native.py::test_training_draws_aligned_patches_afresh_every_epoch_and_the_same_ones_for_a_seed",)),
    Breakage("patches combined by their mean probability", "workflow/ganprint/patches.py",
             "    logs = mean_by_image(np.log(np.clip(probabilities, 1e-30, None)), image_rows, n_images)",
             "    logs = np.log(mean_by_image(probabilities, image_rows, n_images))",
             ("tests/test_native.py::test_patches_combine_by_their_mean_log_probability",)),
    Breakage("residual input ignored", "workflow/ganprint/attribution/network.py",
             '        if self.settings.input == "residual":',
             '        if self.settings.input == "residuals":',
             ("tests/test_native.py::test_native_patches_attribute_traces_that_resizing_erases",)),
    Breakage("a contradicting --crop is accepted", "workflow/ganprint/attribution/inference.py",
             "    if crop is not None and crop != recorded.crop:",
             "    if False:",
             ("tests/test_native.py::test_a_model_records_its_preprocessing_and_attribute_reads_new_images_by_it",)),
    Breakage("the preprocessing record is not checked", "workflow/ganprint/patches.py",
             "        if self.crop not in CROP_MODES:",
             "        if False:",
             ("tests/test_native.py::test_a_model_records_its_preprocessing_and_attribute_reads_new_images_by_it",)),
    Breakage("native and resized sources mixed", "workflow/ganprint/config_checks.py",
             "            if native and resized:",
             "            if False:",
             ("tests/test_config.py::test_config_checks_name_the_key",)),
    Breakage("reencode beside GAN instances", "workflow/ganprint/config_checks.py",
             "        if gans and len(gans) < len(spec[\"sources\"]):",
             "        if False:",
             ("tests/test_config.py::test_config_checks_name_the_key",)),
    Breakage("format differences not warned of", "workflow/ganprint/data/formats.py",
             "    if len(table) and reencoded_quality is None:",
             "    if False:",
             ("tests/test_native.py::test_two_sources_differing_only_in_file_format_are_warned_of_and_reencoding_takes_the_cue_away",)),
    Breakage("reencode does nothing", "workflow/ganprint/data/real.py",
             "            pixels = decoded.pixels if reencode_quality is None else jpeg_round_trip(decoded.pixels, reencode_quality)",
             "            pixels = decoded.pixels",
             ("tests/test_native.py::test_two_sources_differing_only_in_file_format_are_warned_of_and_reencoding_takes_the_cue_away",)),
    Breakage("average precision interpolated", "workflow/ganprint/metrics.py",
             "    return float((recall_steps * precision).sum())",
             "    return float((recall_steps * np.maximum.accumulate(precision[::-1])[::-1]).sum())",
             ("tests/test_metrics.py::test_average_precision_and_roc_auc_per_source_are_scikit_learns_on_fixed_scores",)),
    Breakage("ROC-AUC ties counted whole", "workflow/ganprint/metrics.py",
             "    ranks = rankdata(np.concatenate([positive, negative]))\n    return",
             "    ranks = rankdata(np.concatenate([positive, negative]), method='max')\n    return",
             ("tests/test_metrics.py::test_average_precision_and_roc_auc_per_source_are_scikit_learns_on_fixed_scores",)),
    Breakage("OSCR counts wrong attributions", "workflow/ganprint/metrics.py",
             "share_at_least(known[correct], len(known))",
             "share_at_least(known, len(known))",
             ("tests/test_metrics.py::test_the_open_set_classification_rate_is_the_area_under_correct_against_false_positive_rate",)),
    Breakage("robustness reads the clean images", "workflow/ganprint/robustness.py",
             "            paths = test_paths if perturbation == \"none\" else perturb_arrays(",
             "            paths = test_paths if True else perturb_arrays(",
             ("tests/test_attribution.py::test_robustness_measures_the_model_and_baselines_on_each_degraded_copy_of_the_test_images",)),

]


def copy_of_checkout(folder: Path) -> Path:
    copy = folder / "checkout"
    shutil.copytree(REPO, copy, ignore=shutil.ignore_patterns(
        ".git", "results", ".snakemake", "__pycache__", "*.egg-info", ".pytest_cache", ".slurm*", ".venv"))
    return copy


def apply(breakage: Breakage, checkout: Path) -> tuple[Path, str]:
    path = checkout / breakage.file
    original = path.read_text()
    if original.count(breakage.old) != 1:
        raise SystemExit(f"{breakage.name}: {breakage.file} holds {breakage.old!r} "
                         f"{original.count(breakage.old)} times, not once: update the breakage")
    path.write_text(original.replace(breakage.old, breakage.new))
    return path, original


def caught(breakage: Breakage, checkout: Path) -> tuple[bool, str, float]:
    """Whether the breakage's tests fail while it is in place (in `checkout`), the last line
    of their output, and the seconds they took."""
    path, original = apply(breakage, checkout)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(checkout / "workflow"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    start = time.perf_counter()
    try:
        run = subprocess.run([sys.executable, "-m", "pytest", "-n", "0", "-q", "-x", "-p", "no:cacheprovider",
                              *breakage.tests],
                             cwd=checkout, env=environment, capture_output=True, text=True)
    finally:
        path.write_text(original)
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else run.stderr.strip()[-200:]
    return run.returncode == 1, summary, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="run the breakages whose name contains this")
    args = parser.parse_args()
    chosen = [b for b in BREAKAGES if args.only in b.name]
    rows, missed = [], []
    folder = Path(tempfile.mkdtemp(prefix="breakages-"))
    checkout = copy_of_checkout(folder)
    for breakage in chosen:
        failed, summary, seconds = caught(breakage, checkout)
        verdict = "caught" if failed else "MISSED"
        print(f"{verdict:7} {seconds:6.1f} s  {breakage.file}: {breakage.name}  ({summary})", flush=True)
        rows.append(f"| {breakage.name} | `{breakage.file}` | {verdict} | {summary} |")
        if not failed:
            missed.append(breakage.name)
    shutil.rmtree(folder, ignore_errors=True)
    if not args.only:
        REPORT.write_text("# Deliberate breakages and the tests that catch them\n\n"
                          "Made by `python tests/breakages.py` (the list is in that file).\n\n"
                          "| breakage | file | result | the tests' summary |\n| --- | --- | --- | --- |\n"
                          + "\n".join(rows) + f"\n\n{len(chosen) - len(missed)} of {len(chosen)} caught.\n")
    print(f"{len(chosen) - len(missed)} of {len(chosen)} caught" + (f"; missed: {missed}" if missed else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
