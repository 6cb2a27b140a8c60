# The attribution network: training on an experiment's sources, then evaluation. {network}
# is "full" or a component-analysis variant (low<r>, high<r>, patch<r>).


rule train_attribution:
    input:
        experiment_images("train"),
    output:
        "results/attribution/{dataset}/{experiment}/{network}/model.pt",
    params:
        sources=lambda wc: " ".join(experiment_sources(wc.experiment)),
        lr=config["attribution"]["learning_rate"],
        betas=" ".join(map(str, config["attribution"]["betas"])),
        batch_size=config["attribution"]["batch_size"],
        epochs=config["attribution"]["epochs"],
        lr_schedule=config["attribution"]["lr_schedule"],
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
        "results/logs/train_attribution/{dataset}/{experiment}/{network}.log",
    benchmark:
        "results/benchmarks/train_attribution/{dataset}/{experiment}/{network}.tsv"
    shell:
        "ganprint train-attribution --train {input} --sources {params.sources} --lr {params.lr}"
        " --betas {params.betas} --batch-size {params.batch_size} --epochs {params.epochs}"
        " --lr-schedule {params.lr_schedule} {params.flip} --fmap-base {params.fmap_base}"
        " --fmap-max {params.fmap_max} --network {wildcards.network} --seed {params.seed} --threads {threads}"
        " --output {output} 2> {log}"


rule evaluate_attribution:
    input:
        model="results/attribution/{dataset}/{experiment}/{network}/model.pt",
        test=experiment_images("test"),
    output:
        metrics="results/attribution/{dataset}/{experiment}/{network}/metrics.json",
        features="results/attribution/{dataset}/{experiment}/{network}/features.npz",
        confusion="results/attribution/{dataset}/{experiment}/{network}/confusion.csv",
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
        "results/logs/evaluate_attribution/{dataset}/{experiment}/{network}.log",
    benchmark:
        "results/benchmarks/evaluate_attribution/{dataset}/{experiment}/{network}.tsv",
    shell:
        "ganprint evaluate --model {input.model} --test {input.test} --batch {params.batch}"
        " --seed {params.seed} --threads {threads} --label dataset={wildcards.dataset}"
        " --label experiment={wildcards.experiment} --label method=ours"
        " --metrics {output.metrics} --features {output.features} --confusion {output.confusion} 2> {log}"
