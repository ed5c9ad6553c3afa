# The configuration of lab host t2; tests edit the message to change it.
{
  message = "hello from t2";
}
