# Tables assembled from the evaluations of every data set.


def experiment_metrics(experiments):
    return [
        f"results/attribution/{dataset}/{experiment}/metrics.json"
        for experiment in experiments
        for dataset in config["datasets"]
    ]


rule table3:
    input:
        experiment_metrics(["table3"]),
    output:
        "results/table3.csv",
    log:
        "results/logs/tables/table3.log",
    shell:
        "ganprint table --metrics {input} --per-class --output {output} > {log} 2>&1"


rule sanity_check:
    input:
        experiment_metrics(["sanity_same_seed", "sanity_diff_seed"]),
    output:
        "results/sanity_check.csv",
    log:
        "results/logs/tables/sanity_check.log",
    shell:
        "ganprint table --metrics {input} --output {output} > {log} 2>&1"
