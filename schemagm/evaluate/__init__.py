"""schemagm.evaluate: the stage after training -- metrics of a trained model.

One job per module:

* :mod:`.likelihood`  -- test ELBO and importance-weighted bound (nats, with standard errors);
* :mod:`.two_sample`  -- MMD² two-sample test with a permutation p-value;
* :mod:`.modes`       -- modes covered and high-quality fraction on a mixture (ring of 8);
* :mod:`.classifier`  -- the project's own digits classifier, trained deterministically and cached;
* :mod:`.inception`   -- inception score and Fréchet distance on classifier outputs/features;
* :mod:`.surgery`     -- ELBO surgery: average KL = I_q(x; z) + KL(q(z) || p(z));
* :mod:`.report`      -- run every metric that applies to a run's graph; table and JSON.
"""
