"""plato_mythos: a recurrent-depth transformer built on the decepticons kernel (work in progress)."""
