# Baselines on every experiment's images: kNN, Eigenface, PRNU, DCT, Inception FD ratio. The
# artifact-free subset and the attacks reuse this rule.


rule evaluate_baseline:
    input:
        train=baseline_training_images,
        test=experiment_images("test"),
    output:
        "<results>/baselines/{dataset}/{experiment}/{method}.json",
    params:
        method=lambda wc: wc.method,
        sources=lambda wc: experiment_sources(wc.experiment),
        settings=lambda wc: baseline_settings(wc.method),
        labels=lambda wc: [f"dataset={wc.dataset}", f"experiment={wc.experiment}"],
        seed=config["baselines"]["seed"],
        preprocessing=preprocessing_flag(native_only=True),
    threads: 1
    resources:
        **cluster_resources(gpu=True, runtime=240, mem_mb=64000),
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/baselines/{dataset}/{experiment}/{method}.log",
    benchmark:
        "<results>/benchmarks/baselines/{dataset}/{experiment}/{method}.tsv"
    shell:
        "python -m ganprint baseline --method {params.method} --train {input.train:q} --test {input.test:q}"
        " --sources {params.sources:q} --settings {params.settings:q} {params.preprocessing} --seed {params.seed} --threads {threads}"
        " --label {params.labels:q} --metrics {output:q} 2> {log:q}"
