# The configuration of lab host t1; tests edit the message to change it.
{
  message = "hello from t1";
}
