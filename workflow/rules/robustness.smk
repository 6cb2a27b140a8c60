# Beyond the paper: the robustness experiment's classifier and baselines on degraded test
# images (JPEG, downscaling, blur) with no retraining, one table per data set, then one
# table and one figure per data set.

ROBUSTNESS_EXPERIMENT = config["robustness"]["experiment"]


rule robustness:
    input:
        model=lambda wc: f"<results>/attribution/{wc.dataset}/{ROBUSTNESS_EXPERIMENT}/full/model.pt",
        train=experiment_images("train", ROBUSTNESS_EXPERIMENT),
        test=experiment_images("test", ROBUSTNESS_EXPERIMENT),
    output:
        "<results>/robustness/{dataset}.csv",
    params:
        settings=block_settings("robustness", leave_out=["experiment"]),
        baselines=json.dumps({method: json.loads(baseline_settings(method)) for method in config["robustness"]["methods"]},
                             sort_keys=True),
        batch=config["attribution"]["eval_batch"],
        seed=config["baselines"]["seed"],
    threads: 1
    resources:
        **cluster_resources(gpu=True, runtime=240, mem_mb=64000),
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/robustness/{dataset}.log",
    benchmark:
        "<results>/benchmarks/robustness/{dataset}.tsv"
    shell:
        "python -m ganprint robustness --model {input.model:q} --train {input.train:q} --test {input.test:q}"
        " --settings {params.settings:q} --baselines {params.baselines:q} --dataset {wildcards.dataset}"
        " --batch {params.batch} --seed {params.seed} --threads {threads} --output {output:q} 2> {log:q}"


rule robustness_table:
    input:
        expand("<results>/robustness/{dataset}.csv", dataset=config["datasets"]),
    output:
        "<results>/robustness.csv",
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/tables/robustness.log",
    shell:
        "python -m ganprint robustness-table --tables {input:q} --output {output:q} 2> {log:q}"


rule figure_robustness:
    input:
        "<results>/robustness.csv",
    output:
        report("<results>/figures/robustness_{dataset}.png", caption="../report/figure_robustness.rst",
               category="Figures"),
    params:
        title=lambda wc: f"Attribution of degraded test images ({ROBUSTNESS_EXPERIMENT}, no retraining), {wc.dataset}",
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/figures/robustness_{dataset}.log",
    shell:
        "python -m ganprint figure-robustness --table {input:q} --dataset {wildcards.dataset} --title {params.title:q}"
        " --output {output:q} 2> {log:q}"
