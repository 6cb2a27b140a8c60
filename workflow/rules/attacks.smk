# Attacks and defense (Sec. 4.4): the Table 3 classifier and the PRNU fingerprints on attacked
# test images ("akt"), and both made again from attacked training images ("dfs").


rule attack_images:
    input:
        lambda wc: experiment_images(wc.split, ATTACK_EXPERIMENT)(wc),
    output:
        expand(
            "results/attacks/{{dataset}}/{{attack}}/{source}/{{split}}.npy", source=experiment_sources(ATTACK_EXPERIMENT)
        ),
    params:
        settings=attack_settings(),
        seed=config["attacks"]["seed"],
        streams=lambda wc: " ".join(f"{s}/{wc.split}" for s in experiment_sources(ATTACK_EXPERIMENT)),
    threads: 1
    resources:
        gpu=1,
        runtime=120,
        mem_mb=16000,
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/attack_images/{dataset}/{attack}/{split}.log",
    benchmark:
        "results/benchmarks/attack_images/{dataset}/{attack}/{split}.tsv",
    shell:
        "ganprint attack --name {wildcards.attack} --images {input} --settings '{params.settings}'"
        " --seed {params.seed} --streams {params.streams} --threads {threads} --output {output} 2> {log}"


rule train_defense:
    input:
        train=attacked_images("train"),
        initial=lambda wc: f"results/attribution/{wc.dataset}/{ATTACK_EXPERIMENT}/full/model.pt",
    output:
        "results/attacks/{dataset}/{attack}/defense/model.pt",
    params:
        sources=" ".join(experiment_sources(ATTACK_EXPERIMENT)),
        lr=config["attacks"]["defense"]["learning_rate"],
        betas=" ".join(map(str, config["attribution"]["betas"])),
        batch_size=config["attribution"]["batch_size"],
        epochs=config["attacks"]["defense"]["epochs"],
        lr_schedule=config["attacks"]["defense"]["lr_schedule"],
        flip="" if config["attribution"]["flip"] else "--no-flip",
        fmap_base=config["attribution"]["fmap_base"],
        fmap_max=config["attribution"]["fmap_max"],
        seed=config["attribution"]["seed"],
    threads: 1
    resources:
        gpu=1,
        runtime=1440,
        mem_mb=32000,
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/train_defense/{dataset}/{attack}.log",
    benchmark:
        "results/benchmarks/train_defense/{dataset}/{attack}.tsv"
    shell:
        "ganprint train-attribution --train {input.train} --initial {input.initial} --sources {params.sources}"
        " --lr {params.lr} --betas {params.betas} --batch-size {params.batch_size} --epochs {params.epochs}"
        " --lr-schedule {params.lr_schedule} {params.flip} --fmap-base {params.fmap_base}"
        " --fmap-max {params.fmap_max} --seed {params.seed} --threads {threads} --output {output} 2> {log}"


rule evaluate_attacked:
    input:
        model=lambda wc: (
            f"results/attribution/{wc.dataset}/{ATTACK_EXPERIMENT}/full/model.pt"
            if wc.stage == "akt"
            else f"results/attacks/{wc.dataset}/{wc.attack}/defense/model.pt"
        ),
        test=attacked_images("test"),
    output:
        metrics="results/attacks/{dataset}/{attack}/metrics/ours_{stage}.json",
        features="results/attacks/{dataset}/{attack}/metrics/ours_{stage}_features.npz",
        confusion="results/attacks/{dataset}/{attack}/metrics/ours_{stage}_confusion.csv",
    params:
        batch=config["attribution"]["eval_batch"],
        seed=config["attribution"]["seed"],
    threads: 1
    resources:
        gpu=1,
        runtime=60,
        mem_mb=16000,
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/evaluate_attacked/{dataset}/{attack}/{stage}.log",
    benchmark:
        "results/benchmarks/evaluate_attacked/{dataset}/{attack}/{stage}.tsv",
    shell:
        "ganprint evaluate --model {input.model} --test {input.test} --batch {params.batch}"
        " --seed {params.seed} --threads {threads} --label dataset={wildcards.dataset}"
        " --label attack={wildcards.attack} --label stage={wildcards.stage} --label method=ours"
        " --metrics {output.metrics} --features {output.features} --confusion {output.confusion} 2> {log}"


rule prnu_attacked:
    input:
        train=lambda wc: (
            experiment_images("train", ATTACK_EXPERIMENT)(wc) if wc.stage == "akt" else attacked_images("train")(wc)
        ),
        test=attacked_images("test"),
    output:
        "results/attacks/{dataset}/{attack}/metrics/prnu_{stage}.json",
    params:
        sources=" ".join(experiment_sources(ATTACK_EXPERIMENT)),
        settings=baseline_settings("prnu"),
        seed=config["baselines"]["seed"],
    threads: 1
    resources:
        runtime=240,
        mem_mb=16000,
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/prnu_attacked/{dataset}/{attack}/{stage}.log",
    benchmark:
        "results/benchmarks/prnu_attacked/{dataset}/{attack}/{stage}.tsv",
    shell:
        "ganprint baseline --method prnu --train {input.train} --test {input.test} --sources {params.sources}"
        " --settings '{params.settings}' --seed {params.seed} --threads {threads} --label dataset={wildcards.dataset}"
        " --label attack={wildcards.attack} --label stage={wildcards.stage} --metrics {output} 2> {log}"


rule attack_table:
    input:
        attacked=lambda wc: attack_metrics(attack_table_dataset(wc.number)),
        clean=lambda wc: [
            method_metrics(attack_table_dataset(wc.number), ATTACK_EXPERIMENT, method) for method in ("ours", "prnu")
        ],
    output:
        "results/table{number}.csv",
    wildcard_constraints:
        number="7|8",
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/tables/table{number}.log",
    shell:
        "ganprint attack-table --metrics {input.attacked} --clean {input.clean} --output {output} > {log} 2>&1"


rule figure_attacks:
    input:
        lambda wc: [source_images(wc.dataset, attack_figure_source(), "test")]
        + [f"results/attacks/{wc.dataset}/{a}/{attack_figure_source()}/test.npy" for a in config["attacks"]["names"]],
    output:
        "results/figures/attacks_{dataset}.png",
    params:
        labels=" ".join(["none", *config["attacks"]["names"]]),
        source=attack_figure_source(),
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/figures/attacks_{dataset}.log",
    shell:
        "ganprint figure-samples --images {input} --labels {params.labels} --per-source 4"
        " --title 'Attacks on {wildcards.dataset} test images of {params.source}' --output {output} 2> {log}"
