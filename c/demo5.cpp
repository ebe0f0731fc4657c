// 程序名：demo5.cpp（inet_addr版），教程中“用inet_addr()指定服务端的IP地址”的客户端。
// sockfd: the tutorial's demo5 (method 2, inet_addr), unchanged except sleep() -> sockfd_sleep() (see README.md).
#include <iostream>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <unistd.h>
#include <netdb.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include "sockfd_sleep.h"
using namespace std;
int main(int argc,char *argv[])
{
  if (argc!=3)
  {
    cout << "Using:./demo5 服务端的IP 服务端的端口\nExample:./demo5 192.168.101.138 5005\n\n"; 
    return -1;
  }
  int sockfd = -1;  
  struct sockaddr_in servaddr; // 用于存放协议、端口和IP地址的结构体。  
  struct hostent* h;  // 用于存放服务端IP地址(大端序)的结构体的指针。
    
  sockfd = socket(AF_INET,SOCK_STREAM,0);
  if (sockfd==-1)
  {
    perror("socket"); return -1;
  }
 
  memset(&servaddr,0,sizeof(servaddr));
  servaddr.sin_family = AF_INET; //通信协议走IPV4
  servaddr.sin_port = htons(atoi(argv[2])); //指定服务端的通信端口。
 //指定服务端的IP地址方法1
 //if ( (h = gethostbyname(argv[1])) == nullptr )  
 //{ 
 //   cout << "gethostbyname failed.\n" << endl; close(sockfd); return -1;
 // } 
 // memcpy(&servaddr.sin_addr,h->h_addr,h->h_length); //指定服务端的IP(大端序)。
    
  // 指定服务端的IP地址方法2  
  // 这种方式不灵活 也就是说只能用IP，不能用域名和主机名。
  servaddr.sin_addr.s_addr=inet_addr(argv[1]);
  if (connect(sockfd,(struct sockaddr *)&servaddr,sizeof(servaddr))==-1)  // 向服务端发起连接清求。
  { 
    perror("connect"); close(sockfd); return -1; 
  }
  
  //和服务端数据通信
  char buffer[1024];
  for (int ii=0;ii<10;ii++) 
  {
    int iret;
    memset(buffer,0,sizeof(buffer));
    sprintf(buffer,"这是第%d个超级女生，编号%03d。",ii+1,ii+1); 
    if((iret=send(sockfd,buffer,strlen(buffer),0))<=0)
    { 
      perror("send"); break; 
    }
    cout << "发送：" << buffer << endl;
    memset(buffer,0,sizeof(buffer));
    if ((iret=recv(sockfd,buffer,sizeof(buffer),0))<=0)
    {
       cout << "iret=" << iret << endl; break;
    }
    cout << "接收：" << buffer << endl;
    sockfd_sleep(1);
  }
  close(sockfd);
}
