# Open-set attribution: the open_set experiment's classifier trained without each of its
# sources in turn, evaluated on the held-out source's test images at the threshold
# calibrated on the known sources' validation images (train_attribution, evaluate_attribution).


def open_set_metrics():
    experiment = config["open_set"]["experiment"]
    if len(experiment_sources(experiment)) < 3:
        raise GanprintError(f"open_set.experiment: {experiment} has fewer than 3 sources, so holding one out "
                            "leaves no classifier")
    return [
        f"results/attribution/{dataset}/{held_out_experiment(experiment, source)}/full/metrics.json"
        for dataset in config["datasets"]
        for source in experiment_sources(experiment)
    ]


rule open_set_table:
    input:
        open_set_metrics(),
    output:
        "results/open_set.csv",
    conda:
        ENVIRONMENT
    log:
        "results/logs/tables/open_set.log",
    shell:
        "ganprint open-set-table --metrics {input:q} --output {output:q} > {log:q} 2>&1"
