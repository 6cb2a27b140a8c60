# Baselines on every experiment's images: kNN, Eigenface, PRNU, DCT, Inception FD ratio.


rule evaluate_baseline:
    input:
        train=baseline_training_images,
        test=experiment_images("test"),
    output:
        "results/baselines/{dataset}/{experiment}/{method}.json",
    params:
        sources=lambda wc: " ".join(experiment_sources(wc.experiment)),
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
        "results/logs/baselines/{dataset}/{experiment}/{method}.log",
    benchmark:
        "results/benchmarks/baselines/{dataset}/{experiment}/{method}.tsv"
    shell:
        "ganprint baseline --method {wildcards.method} {params.train} --test {input.test}"
        " --sources {params.sources} --settings '{params.settings}' --seed {params.seed} --threads {threads}"
        " --label dataset={wildcards.dataset} --label experiment={wildcards.experiment}"
        " --metrics {output} 2> {log}"
