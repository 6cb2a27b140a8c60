# Visualising fingerprints (Sec. 3.3 and 4.5): visNet is trained and evaluated by the
# attribution rules as network "visnet" on the visnet block's experiment; Figure 7 shows its
# fingerprints. Figure 1's map places the Table 1 test images by the classifier's features.


rule figure_fingerprints:
    input:
        model=f"<results>/attribution/{{dataset}}/{VISNET_EXPERIMENT}/visnet/model.pt",
        test=experiment_images("test", experiment=VISNET_EXPERIMENT),
    output:
        figure=report("<results>/figures/fingerprints_{dataset}.png", caption="../report/figure_fingerprints.rst", category="Figures"),
        correlations=f"<results>/attribution/{{dataset}}/{VISNET_EXPERIMENT}/visnet/correlations.csv",
    params:
        title=lambda wc: f"visNet fingerprints ({VISNET_EXPERIMENT}, {wc.dataset})",
        batch=config["attribution"]["eval_batch"],
    threads: 1
    resources:
        **cluster_resources(gpu=True, runtime=60, mem_mb=16000),
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/figures/fingerprints_{dataset}.log",
    shell:
        "python -m ganprint figure-fingerprints --model {input.model:q} --test {input.test:q} --batch {params.batch}"
        " --threads {threads} --title {params.title:q} --correlations {output.correlations:q} --output {output.figure:q}"
        " > {log:q} 2>&1"


rule figure_fingerprint_map:
    input:
        features="<results>/attribution/{dataset}/table1/full/features.npz",
        test=experiment_images("test", experiment="table1"),
    output:
        report("<results>/figures/fingerprint_map_{dataset}.png", caption="../report/figure_fingerprint_map.rst", category="Figures"),
    params:
        sources=lambda wc: experiment_sources("table1"),
        seed=config["attribution"]["seed"],
        title=lambda wc: f"Table 1 test images, {wc.dataset}",
    threads: 1
    resources:
        **cluster_resources(runtime=60, mem_mb=16000),
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/figures/fingerprint_map_{dataset}.log",
    shell:
        "python -m ganprint figure-map --features {input.features:q} --test {input.test:q} --sources {params.sources:q}"
        " --seed {params.seed} --threads {threads} --title {params.title:q} --output {output:q} 2> {log:q}"
