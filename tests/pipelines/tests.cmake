# pipelines tests
