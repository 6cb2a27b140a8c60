# The artifact-free subset (Sec. 4.3): GAN test images closest to a real image (LPIPS),
# attributed by the Table 3 classifier and the baselines (Table 6, Figure 5).


rule select_artifact_free:
    input:
        real="<results>/real/{dataset}/images.npy",
        test="<results>/sources/{dataset}/{source}/test.npy",
    output:
        selection="<results>/artifact_free/{dataset}/{source}/selection.npz",
        images="<results>/artifact_free/{dataset}/{source}/test.npy",
    params:
        settings=block_settings("artifact_free", leave_out=["experiment"]),
    threads: 1
    resources:
        **cluster_resources(gpu=True, runtime=240, mem_mb=64000),
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/select_artifact_free/{dataset}/{source}.log",
    benchmark:
        "<results>/benchmarks/select_artifact_free/{dataset}/{source}.tsv"
    shell:
        "python -m ganprint select-artifact-free --real {input.real:q} --test {input.test:q} --settings {params.settings:q}"
        " --threads {threads} --selection {output.selection:q} --output {output.images:q} 2> {log:q}"


use rule evaluate_attribution as evaluate_artifact_free with:
    input:
        model=lambda wc: f"<results>/attribution/{wc.dataset}/{ARTIFACT_FREE_EXPERIMENT}/full/model.pt",
        test=artifact_free_test_images,
    output:
        metrics="<results>/artifact_free/{dataset}/metrics/ours.json",
        features="<results>/artifact_free/{dataset}/metrics/ours_features.npz",
        confusion="<results>/artifact_free/{dataset}/metrics/ours_confusion.csv",
    params:
        labels=lambda wc: [f"dataset={wc.dataset}", "experiment=artifact_free", "method=ours"],
    log:
        "<results>/logs/evaluate_artifact_free/{dataset}.log",
    benchmark:
        "<results>/benchmarks/evaluate_artifact_free/{dataset}.tsv"


use rule evaluate_baseline as baseline_artifact_free with:
    input:
        train=lambda wc: baseline_training_images(wc, ARTIFACT_FREE_EXPERIMENT),
        test=artifact_free_test_images,
    output:
        "<results>/artifact_free/{dataset}/metrics/{method}.json",
    params:
        sources=lambda wc: experiment_sources(ARTIFACT_FREE_EXPERIMENT),
        preprocessing=preprocessing_flag(ARTIFACT_FREE_EXPERIMENT, native_only=True),
        labels=lambda wc: [f"dataset={wc.dataset}", "experiment=artifact_free"],
    log:
        "<results>/logs/baseline_artifact_free/{dataset}/{method}.log",
    benchmark:
        "<results>/benchmarks/baseline_artifact_free/{dataset}/{method}.tsv"


use rule experiment_table as table6 with:
    input:
        metrics=artifact_free_metrics(),
        selections=[artifact_free_selection(d, s) for d in config["datasets"] for s in artifact_free_gans()],
    output:
        "<results>/table6.csv",
    params:
        per_class="--per-class",
    log:
        "<results>/logs/tables/table6.log",


rule figure_selection:
    input:
        images=lambda wc: [source_images(wc.dataset, s, "test") for s in artifact_free_gans()],
        selections=lambda wc: [artifact_free_selection(wc.dataset, s) for s in artifact_free_gans()],
    output:
        report("<results>/figures/selection_{dataset}.png", caption="../report/figure_selection.rst", category="Figures"),
    params:
        labels=artifact_free_gans(),
        title=lambda wc: f"Artifact-free subset, {wc.dataset}",
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/figures/selection_{dataset}.log",
    shell:
        "python -m ganprint figure-selection --images {input.images:q} --selections {input.selections:q}"
        " --labels {params.labels:q} --title {params.title:q} --output {output:q} 2> {log:q}"
