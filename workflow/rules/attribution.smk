# The attribution network: training on an experiment's sources, then evaluation (with the
# open-set calibration on the sources' validation images). {network} is "full", "visnet"
# (the fingerprint visualisation network, visnet.smk) or a component-analysis variant
# (low<r>, high<r>, patch<r>). The defense (attacks.smk) and the artifact-free evaluation
# reuse these two rules; open_set.smk, on experiments without one of their sources.

ATTRIBUTION_TRAINING_MINUTES = 1440


rule train_attribution:
    input:
        train=experiment_images("train"),
        formats=format_check_input,
    output:
        "<results>/attribution/{dataset}/{experiment}/{network}/model.pt",
    params:
        sources=lambda wc: experiment_sources(wc.experiment),
        network=lambda wc: wc.network,
        initial="",
        attack="",
        settings=network_training_settings,
        visnet=visnet_flag,
        high_band=high_band_flag,
        preprocessing=preprocessing_flag(),
    threads: 1
    # visNet first: it is the longest job of its experiment, which then ends sooner
    priority: lambda wc: 1 if wc.get("network") == VISNET else 0
    resources:
        **cluster_resources(gpu=True, runtime=ATTRIBUTION_TRAINING_MINUTES, mem_mb=32000),
    retries: training_retries(ATTRIBUTION_TRAINING_MINUTES)
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/train_attribution/{dataset}/{experiment}/{network}.log",
    benchmark:
        "<results>/benchmarks/train_attribution/{dataset}/{experiment}/{network}.tsv"
    shell:
        "python -m ganprint train-attribution --train {input.train:q} {params.initial} {params.attack} --sources {params.sources:q}"
        " --settings {params.settings:q} {params.visnet} --network {params.network} {params.high_band} {params.preprocessing} --threads {threads} --output {output:q} 2> {log:q}"


rule evaluate_attribution:
    input:
        model="<results>/attribution/{dataset}/{experiment}/{network}/model.pt",
        test=experiment_images("test"),
        val=experiment_images("val"),
        unknown=held_out_test_images,
    output:
        metrics="<results>/attribution/{dataset}/{experiment}/{network}/metrics.json",
        features="<results>/attribution/{dataset}/{experiment}/{network}/features.npz",
        confusion="<results>/attribution/{dataset}/{experiment}/{network}/confusion.csv",
        calibration="<results>/attribution/{dataset}/{experiment}/{network}/calibration.pt",
    params:
        labels=lambda wc: [f"dataset={wc.dataset}", f"experiment={wc.experiment}", f"method={network_method(wc.network)}"],
        batch=config["attribution"]["eval_batch"],
        seed=config["attribution"]["seed"],
        open_set=open_set_flags,
    threads: 1
    resources:
        **cluster_resources(gpu=True, runtime=60, mem_mb=16000),
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/evaluate_attribution/{dataset}/{experiment}/{network}.log",
    benchmark:
        "<results>/benchmarks/evaluate_attribution/{dataset}/{experiment}/{network}.tsv",
    shell:
        "python -m ganprint evaluate --model {input.model:q} --test {input.test:q} --batch {params.batch}"
        " --seed {params.seed} --threads {threads} --label {params.labels:q} {params.open_set}"
        " --metrics {output.metrics:q} --features {output.features:q} --confusion {output.confusion:q} 2> {log:q}"
