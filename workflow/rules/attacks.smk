# Attacks and defense (Sec. 4.4): the Table 3 classifier and the PRNU fingerprints on attacked
# test images ("akt"), and both made again from attacked training images ("dfs"). Included
# only where the config has the attacked experiment (its sources name the outputs here).


rule attack_images:
    input:
        lambda wc: experiment_images("test", ATTACK_EXPERIMENT)(wc),
    output:
        expand("<results>/attacks/{{dataset}}/{{attack}}/{source}/test.npy", source=experiment_sources(ATTACK_EXPERIMENT)),
    params:
        settings=lambda wc: attack_settings(wc.attack),
        seed=config["attacks"]["seed"],
        streams=[f"{source}/test" for source in experiment_sources(ATTACK_EXPERIMENT)],
    threads: 1
    resources:
        **cluster_resources(gpu=True, runtime=120, mem_mb=16000),
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/attack_images/{dataset}/{attack}/test.log",
    benchmark:
        "<results>/benchmarks/attack_images/{dataset}/{attack}/test.tsv"
    shell:
        "python -m ganprint attack --name {wildcards.attack} --images {input:q} --settings {params.settings:q}"
        " --seed {params.seed} --streams {params.streams:q} --threads {threads} --output {output:q} 2> {log:q}"


# The attacked training images feed only PRNU's defense and, with fixed perturbations
# (attacks.defense.perturbations), the classifier's, and are deleted after them
# (at paper scale 54 GB per attack). `--resources attacks=1` makes one attack's set at a time.
use rule attack_images as attack_training_images with:
    input:
        lambda wc: experiment_images("train", ATTACK_EXPERIMENT)(wc),
    output:
        temp(
            expand(
                "<results>/attacks/{{dataset}}/{{attack}}/{source}/train.npy", source=experiment_sources(ATTACK_EXPERIMENT)
            )
        ),
    params:
        streams=[f"{source}/train" for source in experiment_sources(ATTACK_EXPERIMENT)],
    resources:
        **cluster_resources(gpu=True, runtime=120, mem_mb=16000),
        attacks=1,
    log:
        "<results>/logs/attack_images/{dataset}/{attack}/train.log",
    benchmark:
        "<results>/benchmarks/attack_images/{dataset}/{attack}/train.tsv"


use rule train_attribution as train_defense with:
    input:
        train=defense_training_images(),
        initial=lambda wc: f"<results>/attribution/{wc.dataset}/{ATTACK_EXPERIMENT}/full/model.pt",
    output:
        "<results>/attacks/{dataset}/{attack}/defense/model.pt",
    params:
        sources=experiment_sources(ATTACK_EXPERIMENT),
        network="full",
        initial=lambda wc, input: optional_flag("--initial", input.initial),
        attack=defense_attack_flags,
        settings=training_settings(total_images=None, **defense_optimiser()),
        visnet="",
        high_band="",
        preprocessing=preprocessing_flag(ATTACK_EXPERIMENT),
    log:
        "<results>/logs/train_defense/{dataset}/{attack}.log",
    benchmark:
        "<results>/benchmarks/train_defense/{dataset}/{attack}.tsv"


use rule evaluate_attribution as evaluate_attacked with:
    input:
        model=lambda wc: (
            f"<results>/attribution/{wc.dataset}/{ATTACK_EXPERIMENT}/full/model.pt"
            if wc.stage == "akt"
            else f"<results>/attacks/{wc.dataset}/{wc.attack}/defense/model.pt"
        ),
        test=attacked_images("test"),
    output:
        metrics="<results>/attacks/{dataset}/{attack}/metrics/ours_{stage}.json",
        features="<results>/attacks/{dataset}/{attack}/metrics/ours_{stage}_features.npz",
        confusion="<results>/attacks/{dataset}/{attack}/metrics/ours_{stage}_confusion.csv",
    params:
        labels=lambda wc: [f"dataset={wc.dataset}", f"attack={wc.attack}", f"stage={wc.stage}", "method=ours"],
    log:
        "<results>/logs/evaluate_attacked/{dataset}/{attack}/{stage}.log",
    benchmark:
        "<results>/benchmarks/evaluate_attacked/{dataset}/{attack}/{stage}.tsv"


use rule evaluate_baseline as prnu_attacked with:
    input:
        train=lambda wc: (
            experiment_images("train", ATTACK_EXPERIMENT)(wc) if wc.stage == "akt" else attacked_images("train")(wc)
        ),
        test=attacked_images("test"),
    output:
        "<results>/attacks/{dataset}/{attack}/metrics/prnu_{stage}.json",
    params:
        method="prnu",
        sources=experiment_sources(ATTACK_EXPERIMENT),
        settings=baseline_settings("prnu"),
        preprocessing=preprocessing_flag(ATTACK_EXPERIMENT, native_only=True),
        labels=lambda wc: [f"dataset={wc.dataset}", f"attack={wc.attack}", f"stage={wc.stage}"],
    resources:
        **cluster_resources(runtime=240, mem_mb=16000),
    log:
        "<results>/logs/prnu_attacked/{dataset}/{attack}/{stage}.log",
    benchmark:
        "<results>/benchmarks/prnu_attacked/{dataset}/{attack}/{stage}.tsv"


rule attack_table:
    input:
        attacked=lambda wc: attack_metrics(attack_table_dataset(wc.number)),
        clean=lambda wc: [
            method_metrics(attack_table_dataset(wc.number), ATTACK_EXPERIMENT, method) for method in ("ours", "prnu")
        ],
    output:
        "<results>/table{number}.csv",
    wildcard_constraints:
        number="|".join(ATTACK_TABLE_NUMBERS) or "(?!)",
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/tables/table{number}.log",
    shell:
        "python -m ganprint attack-table --metrics {input.attacked:q} --clean {input.clean:q} --output {output:q} > {log:q} 2>&1"


use rule figure_samples as figure_attacks with:
    input:
        lambda wc: [source_images(wc.dataset, attack_figure_source(), "test")]
        + [f"<results>/attacks/{wc.dataset}/{a}/{attack_figure_source()}/test.npy" for a in config["attacks"]["names"]],
    output:
        report("<results>/figures/attacks_{dataset}.png", caption="../report/figure_attacks.rst", category="Figures"),
    params:
        labels=["none", *config["attacks"]["names"]],
        title=lambda wc: f"Attacks on {wc.dataset} test images of {attack_figure_source()}",
        per_source=4,
    log:
        "<results>/logs/figures/attacks_{dataset}.log",
