M/dlSsBmYk//SMZR/MGH2HzgE0A62HB+WUw9xry3ujgso+RDoSZ9pRZzfXLvDynr/leNA8cubZkyraCthY5eBQ==
