# The artifact-free subset (Sec. 4.3): GAN test images closest to a real image (LPIPS),
# attributed by the Table 3 classifier and the baselines (Table 6, Figure 5).


rule select_artifact_free:
    input:
        real="results/real/{dataset}/images.npy",
        test="results/sources/{dataset}/{source}/test.npy",
    output:
        selection="results/artifact_free/{dataset}/{source}/selection.npz",
        images="results/artifact_free/{dataset}/{source}/test.npy",
    params:
        fraction=config["artifact_free"]["fraction"],
        net=config["artifact_free"]["net"],
        weights=optional_flag("--backbone-weights", config["artifact_free"]["backbone_weights"]),
        fallback="--uncalibrated-fallback" if config["artifact_free"]["uncalibrated_fallback"] else "",
        batch=config["artifact_free"]["batch"],
    threads: 1
    resources:
        gpu=1,
        runtime=240,
        mem_mb=64000,
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/select_artifact_free/{dataset}/{source}.log",
    benchmark:
        "results/benchmarks/select_artifact_free/{dataset}/{source}.tsv"
    shell:
        "ganprint select-artifact-free --real {input.real} --test {input.test} --fraction {params.fraction}"
        " --net {params.net} {params.weights} {params.fallback} --batch {params.batch} --threads {threads}"
        " --selection {output.selection} --output {output.images} 2> {log}"


rule evaluate_artifact_free:
    input:
        model=lambda wc: f"results/attribution/{wc.dataset}/{ARTIFACT_FREE_EXPERIMENT}/full/model.pt",
        test=artifact_free_test_images,
    output:
        metrics="results/artifact_free/{dataset}/metrics/ours.json",
        features="results/artifact_free/{dataset}/metrics/ours_features.npz",
        confusion="results/artifact_free/{dataset}/metrics/ours_confusion.csv",
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
        "results/logs/evaluate_artifact_free/{dataset}.log",
    benchmark:
        "results/benchmarks/evaluate_artifact_free/{dataset}.tsv",
    shell:
        "ganprint evaluate --model {input.model} --test {input.test} --batch {params.batch}"
        " --seed {params.seed} --threads {threads} --label dataset={wildcards.dataset}"
        " --label experiment=artifact_free --label method=ours"
        " --metrics {output.metrics} --features {output.features} --confusion {output.confusion} 2> {log}"


rule baseline_artifact_free:
    input:
        train=lambda wc: baseline_training_images(wc, ARTIFACT_FREE_EXPERIMENT),
        test=artifact_free_test_images,
    output:
        "results/artifact_free/{dataset}/metrics/{method}.json",
    params:
        sources=lambda wc: " ".join(experiment_sources(ARTIFACT_FREE_EXPERIMENT)),
        train=lambda wc, input: optional_flag("--train", " ".join(input.train)),
        settings=lambda wc: baseline_settings(wc.method),
        seed=config["baselines"]["seed"],
    threads: 1
    resources:
        gpu=1,
        runtime=240,
        mem_mb=64000,
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/baseline_artifact_free/{dataset}/{method}.log",
    benchmark:
        "results/benchmarks/baseline_artifact_free/{dataset}/{method}.tsv",
    shell:
        "ganprint baseline --method {wildcards.method} {params.train} --test {input.test}"
        " --sources {params.sources} --settings '{params.settings}' --seed {params.seed} --threads {threads}"
        " --label dataset={wildcards.dataset} --label experiment=artifact_free --metrics {output} 2> {log}"


rule table6:
    input:
        metrics=artifact_free_metrics(),
        selections=[artifact_free_selection(d, s) for d in config["datasets"] for s in artifact_free_gans()],
    output:
        "results/table6.csv",
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/tables/table6.log",
    shell:
        "ganprint table --metrics {input.metrics} --per-class --selections {input.selections} --output {output} > {log} 2>&1"


rule figure_selection:
    input:
        images=lambda wc: [source_images(wc.dataset, s, "test") for s in artifact_free_gans()],
        selections=lambda wc: [artifact_free_selection(wc.dataset, s) for s in artifact_free_gans()],
    output:
        "results/figures/selection_{dataset}.png",
    params:
        labels=" ".join(artifact_free_gans()),
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/figures/selection_{dataset}.log",
    shell:
        "ganprint figure-selection --images {input.images} --selections {input.selections} --labels {params.labels}"
        " --title 'Artifact-free subset, {wildcards.dataset}' --output {output} 2> {log}"
