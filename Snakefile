# ganprint: attribute images to the GAN that made them (Yu, Davis & Fritz, ICCV 2019).
import sys

from snakemake.utils import min_version

# This checkout's package, whichever copy is installed (the jobs run it too: rules/common.smk).
PACKAGE_PARENT = f"{workflow.basedir}/workflow"
sys.path.insert(0, PACKAGE_PARENT)

from ganprint import GanprintError
from ganprint.config_checks import check_data_paths, checked_config
from snakemake.pathvars import Pathvars

min_version("9.13")


# config.yaml is the embedded default; a --configfile given on the command line replaces
# it instead of being merged into it (a paper run must not inherit the demo data set).
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


# A config error ends the run in one line naming the key, without Snakemake's traceback.
try:
    config.update(checked_config(config, workflow.configfiles))
    check_data_paths(config)
except GanprintError as error:
    sys.exit(f"config error: {error}")

# A rehearsal writes under a results folder of its own (the config's pathvars are read
# before this file runs).
workflow.pathvars.update(Pathvars.from_config(config))


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/gans.smk"
include: "workflow/rules/attribution.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/components.smk"
include: "workflow/rules/artifact_free.smk"
include: "workflow/rules/visnet.smk"


# Tables 7 and 8 exist only where the config has the attacked experiment (the attack rules
# name its sources in their outputs).
if ATTACK_EXPERIMENT in config["experiments"]:

    include: "workflow/rules/attacks.smk"


include: "workflow/rules/training_length.smk"
include: "workflow/rules/open_set.smk"
include: "workflow/rules/robustness.smk"


# Tables, figures and report pages take seconds: on a cluster they run where Snakemake runs.
localrules:
    all,
    experiment_table,
    component_table,
    table6,
    attack_table,
    training_length_table,
    open_set_table,
    table_page,
    figure_samples,
    figure_diffusion_samples,
    figure_selection,
    figure_attacks,
    figure_components,
    figure_training_length,
    figure_fingerprint_map,
    robustness_table,
    figure_robustness,


rule all:
    input:
        configured_outputs(),
    default_target: True


onstart:
    check_cluster_requests(workflow.dag.needrun_jobs())
